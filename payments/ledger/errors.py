"""Errors of the ledger, placed under the gateway's one error tree.

PaymentsError
├── InvalidInput
│   └── UnbalancedEntry       a draft breaks an entry rule (legs, amounts, balance)
├── NotFound
│   ├── AccountNotFound
│   └── EntryNotFound
└── Conflict
    ├── SourceKeyConflict     the source key was used for different content
    └── AlreadyReversed       the entry has its (one) reversal already
"""

from __future__ import annotations

from collections.abc import Sequence

from payments.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound


class UnbalancedEntry(InvalidInput):
    title = "Entry rejected"

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__(problems)


class AccountNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"no ledger account {code!r}")
        self.code = code


class EntryNotFound(NotFound):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"no journal entry {entry_id}")
        self.entry_id = entry_id


class SourceKeyConflict(Conflict):
    title = "Source key already used"

    def __init__(self, source_key: str, existing_entry_id: int) -> None:
        super().__init__(
            f"source key {source_key!r} already names entry {existing_entry_id} "
            "with different content"
        )
        self.source_key = source_key
        self.existing_entry_id = existing_entry_id


class AlreadyReversed(Conflict):
    title = "Entry already reversed"

    def __init__(self, entry_id: int, reversal_id: int) -> None:
        super().__init__(f"entry {entry_id} is already reversed by entry {reversal_id}")
        self.entry_id = entry_id
        self.reversal_id = reversal_id
