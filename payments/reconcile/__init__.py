"""Nightly reconciliation of the ledger against treasury statements and provider reports."""
