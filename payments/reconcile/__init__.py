"""Nightly reconciliation of the ledger against treasury statements and provider reports.

Layers (checked by import-linter): ``formats`` (pure: statements and settlement reports, camt
and CSV, read and written) <- ``rules`` (pure: the business calendar, matching, refunds against
reports, unknown lines) <- ``ports`` (what the use cases need from storage) <- ``usecases``
(imports, the day's run, settlements, remittances, reports) <- ``storage`` (SQLAlchemy, with
PostgreSQL bulk paths) and ``sources`` (the treasury's and the providers' files over HTTP).
"""
