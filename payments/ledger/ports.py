"""What the ledger needs from storage. The SQLAlchemy store implements it; services and the
write path see only this module (it imports no database library).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from payments.ledger.chain import ChainLink
from payments.ledger.entries import Account, AccountSpec, AccountType, Entry, EntryDraft


@dataclass(frozen=True)
class AccountTotals:
    """Debits and credits of one account up to some time; ``net`` is debits minus credits."""

    account: Account
    debits: int
    credits: int

    @property
    def net(self) -> int:
        return self.debits - self.credits

    @property
    def balance(self) -> int:
        """The balance on the account's normal side (what a statement shows)."""
        return self.net if self.account.type.debit_normal else -self.net


@dataclass(frozen=True)
class AccountFilter:
    type: AccountType | None = None
    currency: str | None = None
    code_prefix: str | None = None


class LedgerStore(Protocol):
    """Storage of accounts, entries and the chain, inside the caller's transaction.

    Nothing here commits; the unit of work that built the store does.
    """

    async def accounts_by_code(self, codes: Sequence[str]) -> dict[str, Account]: ...

    async def open_accounts(self, specs: Sequence[AccountSpec], now: datetime) -> None:
        """Create the accounts that do not exist yet; existing ones are left alone."""

    async def list_accounts(
        self, flt: AccountFilter, *, after_code: str | None, limit: int
    ) -> Sequence[Account]:
        """Ordered by code, strictly after ``after_code`` (keyset pagination)."""

    async def insert_entry(
        self, draft: EntryDraft, accounts: dict[str, Account], recorded_at: datetime
    ) -> int | None:
        """Write the entry and its legs and queue it for sealing; return its id, or None when
        its source key is taken or its ``reversal_of`` already has a reversal (nothing is
        written then)."""

    async def entry(self, entry_id: int) -> Entry | None: ...

    async def entry_by_source_key(self, source_key: str) -> Entry | None: ...

    async def reversal_of(self, entry_id: int) -> Entry | None:
        """The entry that reverses ``entry_id``, if any."""

    async def entries_after(self, after_id: int, limit: int) -> Sequence[Entry]:
        """Entries with id > ``after_id`` in id order."""

    async def totals(
        self, *, as_of: datetime | None, account_ids: Sequence[int] | None = None
    ) -> Sequence[AccountTotals]:
        """Per account, summed from the postings of entries that occurred at or before
        ``as_of`` (all entries when None); accounts without postings appear with zeros."""

    async def lock_chain(self) -> None:
        """Make concurrent sealers take turns; writers of entries are never blocked."""

    async def chain_head(self) -> ChainLink | None: ...

    async def chain_after(self, after_position: int, limit: int) -> Sequence[ChainLink]: ...

    async def unsealed_entries(self, limit: int) -> Sequence[Entry]:
        """The oldest ``limit`` committed entries of the sealing queue that are not in the
        chain, in id order; the cost is the batch's, not the journal's."""

    async def queued_after(self, after_id: int, limit: int) -> Sequence[int]:
        """Entry ids in the sealing queue greater than ``after_id``, in order."""

    async def unsealed_count(self) -> int:
        """How many entries wait on the sealing queue (the sealing backlog)."""

    async def append_links(self, links: Sequence[ChainLink], sealed_at: datetime) -> None:
        """Store the links and take their entries off the sealing queue."""


class LedgerUnitOfWork(Protocol):
    ledger: LedgerStore

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class LedgerUnitOfWorkFactory(Protocol):
    def __call__(self) -> LedgerUnitOfWork: ...
