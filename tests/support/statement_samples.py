"""Treasury statements to upload: real banks' camt files from the shared data folder, and a
camt.053 in VND written for the test day."""

from __future__ import annotations

from pathlib import Path

from payments.reconcile.formats.statements import BookingStatus, Direction, StatementLine
from payments.reconcile.formats.writers import camt053
from tests.support.reconcile_days import DAY

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "camt"


def vnd_camt(*references: str) -> bytes:
    lines = [
        StatementLine(
            n, 150_000, "VND", Direction.CREDIT, False, BookingStatus.BOOKED, DAY, DAY,
            f"BANK{n}", ref, "NOP NSNN", ref,
        )
        for n, ref in enumerate(references, start=1)
    ]  # fmt: skip
    return "".join(
        camt053(lines, statement_id="KBNN-20250312", account="7111", currency="VND", day=DAY)
    ).encode()
