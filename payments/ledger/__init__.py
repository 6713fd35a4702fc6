"""Double-entry ledger: accounts, journal entries, postings; one write path."""
