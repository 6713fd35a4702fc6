"""State-budget destination of a payment (form C1-02/NS fields).

Only formats are checked here; the code lists themselves (chapters, sub-items, treasuries)
are data that changes with regulation, never hard-coded logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from payments.domain.errors import FieldProblem

CHAPTER = re.compile(r"\d{3}")
SUB_ITEM = re.compile(r"\d{4}")
TREASURY_ACCOUNT = re.compile(r"\d{4}")
CODE = re.compile(r"[0-9A-Za-z]{1,20}")
AREA = re.compile(r"\d{1,10}")


@dataclass(frozen=True)
class BudgetDestination:
    treasury_account: str
    treasury_code: str
    collecting_agency: str
    chapter: str
    sub_item: str
    area: str | None = None

    def problems(self, prefix: str = "budget") -> list[FieldProblem]:
        found: list[FieldProblem] = []
        checks = (
            ("treasury_account", self.treasury_account, TREASURY_ACCOUNT, "4 digits, e.g. 7111"),
            ("treasury_code", self.treasury_code, CODE, "1 to 20 letters or digits"),
            ("collecting_agency", self.collecting_agency, CODE, "1 to 20 letters or digits"),
            ("chapter", self.chapter, CHAPTER, "3 digits, e.g. 755"),
            ("sub_item", self.sub_item, SUB_ITEM, "4 digits, e.g. 2862"),
        )
        for name, value, pattern, expected in checks:
            if not pattern.fullmatch(value):
                found.append(FieldProblem(f"{prefix}.{name}", f"must be {expected}"))
        if self.area is not None and not AREA.fullmatch(self.area):
            found.append(FieldProblem(f"{prefix}.area", "must be 1 to 10 digits"))
        return found
