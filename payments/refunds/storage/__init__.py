"""Refunds in SQL: the refunds and refund_events tables and the repository on them."""
