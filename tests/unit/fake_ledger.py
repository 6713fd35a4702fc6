"""An in-memory LedgerStore for unit tests of services that post to the ledger.

It keeps the store's promises that services rely on (unique source key, one reversal per
entry, accounts opened once); the rules themselves live in payments.ledger.posting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from payments.ledger.chain import ChainLink
from payments.ledger.entries import Account, AccountSpec, Entry, EntryDraft
from payments.ledger.ports import AccountFilter, AccountTotals


@dataclass
class LedgerData:
    accounts: dict[str, Account] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    chain: list[ChainLink] = field(default_factory=list)
    unsealed: set[int] = field(default_factory=set)  # the sealing queue


class FakeLedgerStore:
    def __init__(self, data: LedgerData) -> None:
        self.data = data

    async def accounts_by_code(self, codes: Sequence[str]) -> dict[str, Account]:
        return {code: self.data.accounts[code] for code in codes if code in self.data.accounts}

    async def open_accounts(self, specs: Sequence[AccountSpec], now: datetime) -> None:
        for spec in specs:
            if spec.code not in self.data.accounts:
                self.data.accounts[spec.code] = Account(
                    len(self.data.accounts) + 1, spec.code, spec.type, spec.currency, spec.name, now
                )

    async def list_accounts(
        self, flt: AccountFilter, *, after_code: str | None, limit: int
    ) -> Sequence[Account]:
        rows = sorted(self.data.accounts.values(), key=lambda a: a.code)
        rows = [
            a
            for a in rows
            if (after_code is None or a.code > after_code)
            and (flt.type is None or a.type is flt.type)
            and (flt.currency is None or a.currency == flt.currency)
            and (flt.code_prefix is None or a.code.startswith(flt.code_prefix))
        ]
        return rows[:limit]

    async def insert_entry(
        self, draft: EntryDraft, accounts: dict[str, Account], recorded_at: datetime
    ) -> int | None:
        for entry in self.data.entries:
            if entry.source_key == draft.source_key:
                return None
            if draft.reversal_of is not None and entry.reversal_of == draft.reversal_of:
                return None
        entry_id = len(self.data.entries) + 1
        self.data.entries.append(
            Entry(
                entry_id,
                draft.source_key,
                draft.description,
                draft.occurred_at,
                recorded_at,
                draft.legs,
                draft.reversal_of,
            )
        )
        self.data.unsealed.add(entry_id)
        return entry_id

    async def entry(self, entry_id: int) -> Entry | None:
        return next((e for e in self.data.entries if e.id == entry_id), None)

    async def entry_by_source_key(self, source_key: str) -> Entry | None:
        return next((e for e in self.data.entries if e.source_key == source_key), None)

    async def reversal_of(self, entry_id: int) -> Entry | None:
        return next((e for e in self.data.entries if e.reversal_of == entry_id), None)

    async def entries_after(self, after_id: int, limit: int) -> Sequence[Entry]:
        return [e for e in self.data.entries if e.id > after_id][:limit]

    async def totals(
        self, *, as_of: datetime | None, account_ids: Sequence[int] | None = None
    ) -> Sequence[AccountTotals]:
        found = []
        for account in self.data.accounts.values():
            if account_ids is not None and account.id not in account_ids:
                continue
            legs = [
                leg
                for e in self.data.entries
                if as_of is None or e.occurred_at <= as_of
                for leg in e.legs
                if leg.account.code == account.code
            ]
            debits = sum(leg.amount for leg in legs if leg.net > 0)
            credits = sum(leg.amount for leg in legs if leg.net < 0)
            found.append(AccountTotals(account, debits, credits))
        return found

    async def lock_chain(self) -> None:
        return None

    async def chain_head(self) -> ChainLink | None:
        return self.data.chain[-1] if self.data.chain else None

    async def chain_after(self, after_position: int, limit: int) -> Sequence[ChainLink]:
        return [link for link in self.data.chain if link.position > after_position][:limit]

    async def unsealed_entries(self, limit: int) -> Sequence[Entry]:
        sealed = {link.entry_id for link in self.data.chain}
        queued = set(sorted(self.data.unsealed - sealed)[:limit])
        return [e for e in self.data.entries if e.id in queued]

    async def queued_after(self, after_id: int, limit: int) -> Sequence[int]:
        return sorted(i for i in self.data.unsealed if i > after_id)[:limit]

    async def unsealed_count(self) -> int:
        return len(self.data.unsealed)

    async def append_links(self, links: Sequence[ChainLink], sealed_at: datetime) -> None:
        self.data.chain.extend(links)
        self.data.unsealed.difference_update(link.entry_id for link in links)
