"""Sealing the journal into the hash chain, and verifying the whole ledger from scratch.

Sealing runs off the hot path (a worker or ``payments ledger seal``): writers never touch the
chain, sealers take turns on a lock of their own, and each seal appends one batch of links.

``verify_ledger`` trusts nothing it did not recompute: it walks every entry, checks each rule
of ARCHITECTURE.md section 5 it can see, folds every balance from the legs and compares it with
the database's own sums, recomputes every link of the chain, and checks that every entry is
either sealed or on the sealing queue (an entry on neither would never be sealed). Given
anchors (heads kept outside the database, ``payments.ledger.anchors``), it also proves the
journal, hashed again from genesis in chain order, still reaches each anchored hash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from payments.ledger.anchors import Anchor, anchor_problem
from payments.ledger.chain import GENESIS, ChainLink, entry_hash, extend_chain, link_hash
from payments.ledger.entries import Entry, entry_problems, is_exact_inverse
from payments.ledger.ports import AccountTotals, LedgerStore

BATCH = 500


@dataclass(frozen=True)
class Problem:
    entry_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id}" if self.entry_id is not None else "ledger"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    entries: int = 0
    sealed: int = 0
    accounts: int = 0
    head_hash: str = GENESIS
    head_position: int = 0
    anchors_checked: int = 0
    anchors_broken: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken_entry(self) -> int | None:
        """The lowest entry id named by any problem."""
        return min((p.entry_id for p in self.problems if p.entry_id is not None), default=None)


@dataclass(frozen=True)
class SealResult:
    sealed: int
    head: ChainLink | None
    refused: Problem | None = None


async def seal_journal(store: LedgerStore, *, now: datetime, batch: int = BATCH) -> SealResult:
    """Append the next batch of committed, unsealed entries to the chain.

    An entry that breaks a rule is never sealed: sealing stops before it and says why.
    The caller commits.
    """
    await store.lock_chain()
    head = await store.chain_head()
    entries = list(await store.unsealed_entries(batch))
    refused: Problem | None = None
    for index, entry in enumerate(entries):
        problems = entry_problems(entry)
        if problems:
            refused = Problem(entry.id, "; ".join(problems))
            entries = entries[:index]
            break
    links = extend_chain(head, entries)
    await store.append_links(links, now)
    return SealResult(len(links), links[-1] if links else head, refused)


async def verify_ledger(store: LedgerStore, anchors: Sequence[Anchor] = ()) -> VerifyReport:
    """Check everything; each of ``anchors`` must still hold (a problem names any that does
    not)."""
    report = VerifyReport()
    hashes: dict[int, str] = {}
    nets: Counter[str] = Counter()
    accounts = {t.account.code: t for t in await store.totals(as_of=None)}
    report.accounts = len(accounts)
    reversed_by: dict[int, int] = {}
    after = 0
    while batch := await store.entries_after(after, BATCH):
        for entry in batch:
            report.entries += 1
            hashes[entry.id] = entry_hash(entry)
            for message in entry_problems(entry):
                report.problems.append(Problem(entry.id, message))
            for leg in entry.legs:
                nets[leg.account.code] += leg.net
                known = accounts.get(leg.account.code)
                if known is not None and known.account.spec != leg.account:
                    report.problems.append(
                        Problem(
                            entry.id,
                            f"leg on {leg.account.code} is in {leg.currency}, the account is a "
                            f"{known.account.type} account in {known.account.currency}",
                        )
                    )
            if entry.reversal_of is not None:
                await _check_reversal(store, entry, reversed_by, report)
        after = batch[-1].id
    _check_balances(accounts, nets, report)
    sealed = await _check_chain(store, hashes, report, anchors)
    await _check_queue(store, hashes, sealed, report)
    return report


async def _check_reversal(
    store: LedgerStore, entry: Entry, reversed_by: dict[int, int], report: VerifyReport
) -> None:
    if entry.reversal_of is None:
        return
    if entry.reversal_of in reversed_by:
        report.problems.append(Problem(entry.id, f"reverses {entry.reversal_of} a second time"))
    reversed_by[entry.reversal_of] = entry.id
    original = await store.entry(entry.reversal_of)
    if original is None or original.id >= entry.id:
        report.problems.append(Problem(entry.id, f"reverses unknown entry {entry.reversal_of}"))
    elif not is_exact_inverse(entry, original):
        report.problems.append(
            Problem(entry.id, f"is not the exact inverse of entry {original.id}")
        )


def _check_balances(
    accounts: dict[str, AccountTotals], nets: Counter[str], report: VerifyReport
) -> None:
    per_currency: Counter[str] = Counter()
    for code, totals in accounts.items():
        per_currency[totals.account.currency] += totals.net
        if totals.net != nets.get(code, 0):
            report.problems.append(
                Problem(
                    None,
                    f"account {code}: the database sums {totals.net}, "
                    f"the legs fold to {nets.get(code, 0)}",
                )
            )
    for currency, total in sorted(per_currency.items()):
        if total != 0:
            report.problems.append(
                Problem(None, f"balances in {currency} sum to {total}, not zero")
            )


async def _check_chain(
    store: LedgerStore,
    hashes: dict[int, str],
    report: VerifyReport,
    anchors: Sequence[Anchor] = (),
) -> set[int]:
    previous, position, seen = GENESIS, 0, set[int]()
    # The journal's own fold: the entries as they are now, hashed in chain order. An anchor
    # is checked against it, not against the stored links, which a rewrite would redo too.
    wanted = {anchor.position for anchor in anchors}
    journal, reached = GENESIS, {0: GENESIS}
    while links := await store.chain_after(position, BATCH):
        for link in links:
            position += 1
            if link.position != position:
                report.problems.append(
                    Problem(link.entry_id, f"chain skips from position {position - 1}")
                )
                position = link.position
            actual = hashes.get(link.entry_id)
            journal = link_hash(journal, actual or link.entry_hash)
            if link.position in wanted:
                reached[link.position] = journal
            if actual is None:
                report.problems.append(Problem(link.entry_id, "sealed entry is missing"))
            elif actual != link.entry_hash:
                report.problems.append(
                    Problem(
                        link.entry_id,
                        f"content no longer matches its seal (chain position {link.position})",
                    )
                )
            if link_hash(previous, link.entry_hash) != link.chain_hash:
                report.problems.append(
                    Problem(link.entry_id, f"chain link {link.position} is broken")
                )
            previous = link.chain_hash
            seen.add(link.entry_id)
    report.sealed = len(seen)
    report.head_hash = previous
    report.head_position = position
    for anchor in anchors:
        problem = anchor_problem(anchor, reached.get(anchor.position), position)
        if problem is not None:
            report.problems.append(Problem(None, problem))
            report.anchors_broken += 1
    report.anchors_checked = len(anchors)
    return seen


async def _check_queue(
    store: LedgerStore, hashes: dict[int, str], sealed: set[int], report: VerifyReport
) -> None:
    """Chain and sealing queue must split the journal: each entry in exactly one of them."""
    queued: set[int] = set()
    after = 0
    while ids := await store.queued_after(after, BATCH):
        queued.update(ids)
        after = ids[-1]
    for entry_id in sorted(queued & sealed):
        report.problems.append(Problem(entry_id, "is sealed but still in the sealing queue"))
    for entry_id in sorted(queued - hashes.keys()):
        report.problems.append(Problem(entry_id, "is in the sealing queue but missing"))
    for entry_id in sorted(hashes.keys() - sealed - queued):
        report.problems.append(
            Problem(entry_id, "is neither sealed nor in the sealing queue: no seal will cover it")
        )
