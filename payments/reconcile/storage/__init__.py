"""The reconciliation's storage in SQL: statements, lines, runs, items, settlements and
remittances, with PostgreSQL bulk paths."""
