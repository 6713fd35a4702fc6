"""Payments, attempts, callbacks and credits in SQL; the payment-creation hot path on PostgreSQL."""
