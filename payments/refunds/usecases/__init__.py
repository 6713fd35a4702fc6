"""Refund use cases, each in one transaction: ask, decide, send and follow up, settle by hand, book
in the ledger, notify."""
