"""Refunds: a finance officer asks, a second approves, the gateway sends it to the provider and
follows it to an answer (or escalates it to be settled by hand, with four eyes); every step is
booked in the ledger and notified. Layers (checked by import-linter): ``rules`` (pure:
statuses, transitions, what is refundable, the four-eyes and resolution rules, the API
resource) <- ``ports`` (what the use cases need from storage) <- ``usecases`` (each owns its
transaction) <- ``storage`` (SQLAlchemy tables and repository)."""
