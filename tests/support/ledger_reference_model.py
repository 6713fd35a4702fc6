"""A pure-Python reference ledger: what the real one must answer, step by step.

It knows nothing of storage or ids beyond source keys, so it is small enough to be obviously
right; the state machine compares the real ledger with it after every step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from payments.ledger.entries import EntryDraft, Leg, leg_multiset, leg_problems


class Outcome(StrEnum):
    CREATED = "created"
    REPLAYED = "replayed"
    CONFLICT = "conflict"
    INVALID = "invalid"
    ALREADY_REVERSED = "already reversed"


@dataclass
class ModelEntry:
    draft: EntryDraft
    reverses: str | None = None  # source key of the entry this one reverses


@dataclass
class ReferenceLedger:
    entries: dict[str, ModelEntry] = field(default_factory=dict)
    reversal_by_original: dict[str, str] = field(default_factory=dict)

    def post(self, draft: EntryDraft, reverses: str | None = None) -> Outcome:
        if leg_problems(draft.legs):
            return Outcome.INVALID
        earlier = self.entries.get(draft.source_key)
        if earlier is not None:
            same = (
                earlier.draft.description == draft.description
                and earlier.reverses == reverses
                and leg_multiset(earlier.draft.legs) == leg_multiset(draft.legs)
            )
            return Outcome.REPLAYED if same else Outcome.CONFLICT
        if reverses is not None and reverses in self.reversal_by_original:
            return Outcome.ALREADY_REVERSED
        self.entries[draft.source_key] = ModelEntry(draft, reverses)
        if reverses is not None:
            self.reversal_by_original[reverses] = draft.source_key
        return Outcome.CREATED

    def inverse_legs(self, source_key: str) -> tuple[Leg, ...]:
        return tuple(leg.inverse() for leg in self.entries[source_key].draft.legs)

    def nets(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for entry in self.entries.values():
            for leg in entry.draft.legs:
                totals[leg.account.code] += leg.net
        return totals

    def nets_by_currency(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for entry in self.entries.values():
            for leg in entry.draft.legs:
                totals[leg.currency] += leg.net
        return totals
