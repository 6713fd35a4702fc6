"""Reconciliation use cases: importing statements and reports, running a day, booking settlements
and remittances, the reports staff read."""
