"""Benchmark: parsing and matching a day of 1,000,000 statement lines, next to a pandas baseline.

Run::

    . .venv/bin/activate
    python -m bench.reconcile_match --lines 1000000      # at most 1,000,000

What it does, in one run:

1. writes, in a temporary directory, a day of ``--lines`` succeeded payments (the gateway's CSV
   export) and the treasury's statement for it, both as the default CSV layout and as a
   camt.053.001.08 file; the statement carries a few discrepancies of every kind (0.1 % missing,
   unknown, amount mismatches, duplicates);
2. runs each phase in its own Python process (so each peak RSS, ``ru_maxrss``, is that phase's):
   - ``csv``: ``read_csv`` over the statement (streamed; lines kept in a list, as the matcher
     needs them);
   - ``camt``: ``read_camt`` over the camt.053 file (streamed, entries cleared as they go);
   - ``match``: ``match_day`` over the payments and the parsed lines (parsing not timed);
   - ``pandas``: ``pandas.read_csv`` of both CSV exports and a merge on the reference, the
     baseline a treasury analyst would write;
3. prints a table of wall time and peak memory per phase and the ratio match/pandas (target:
   matching no slower than 2x the baseline).

Persistence and ledger postings are not part of this benchmark (a later round measures the full
run on PostgreSQL).
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.statements import paused_gc, read_all
from payments.reconcile.rules.matching import GatewayPayment, MatchConfig, match_day

DAY = date(2025, 3, 12)  # a Wednesday, not a holiday
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
AGENCIES = ("1054321", "2001234", "3104455", "4200001")
SUB_ITEMS = ("1001", "1052", "1701", "2862")
PROVIDERS = ("vnpay", "momo", "vietqr")
MAX_LINES = 1_000_000
START = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi


def payment_id(number: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return "pay_" + "".join(reversed(chars))


def payment_rows(count: int) -> list[tuple[str, int, str, int, datetime]]:
    """(payment id, agency index, provider, amount, captured at) of every payment."""
    rng = random.Random(7)
    return [
        (
            payment_id(n + 1),
            n % len(AGENCIES),
            PROVIDERS[n % len(PROVIDERS)],
            rng.randrange(10, 5_000) * 1_000,
            START + timedelta(milliseconds=n * 20),  # all before the 16:00 cut-off
        )
        for n in range(count)
    ]


def write_files(directory: Path, rows: list[tuple[str, int, str, int, datetime]]) -> None:
    """The gateway export, and the treasury statement as CSV and camt.053."""
    with (
        (directory / "payments.csv").open("w", newline="") as payments_file,
        (directory / "statement.csv").open("w", newline="") as statement_file,
        (directory / "statement.xml").open("w") as camt,
    ):
        payments = csv.writer(payments_file)
        payments.writerow(
            ["payment_id", "agency", "amount", "currency", "treasury_code", "chapter",
             "sub_item", "provider", "captured_at"]
        )  # fmt: skip
        statement = csv.writer(statement_file)
        statement.writerow(
            ["booking_date", "amount", "currency", "direction", "bank_reference",
             "end_to_end_id", "remittance"]
        )  # fmt: skip
        camt.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n'
            "<BkToCstmrStmt><GrpHdr><MsgId>BENCH</MsgId>"
            "<CreDtTm>2025-03-12T23:00:00+07:00</CreDtTm></GrpHdr>\n"
            "<Stmt><Id>KBNN-20250312</Id><Acct><Id><Othr><Id>7111-0001</Id></Othr></Id>"
            "<Ccy>VND</Ccy></Acct>\n"
        )
        for number, (pid, agency, provider, paid, captured) in enumerate(rows):
            payments.writerow(
                [pid, AGENCIES[agency], paid, "VND", "0011", "755", SUB_ITEMS[agency],
                 provider, captured.isoformat()]
            )  # fmt: skip
            roll = number % 1000
            if roll == 1:
                continue  # missing at treasury
            amount = paid + 1_000 if roll == 2 else paid  # amount mismatch
            reference = payment_id(10**12 + number) if roll == 3 else pid  # unknown
            for _ in range(2 if roll == 4 else 1):  # duplicate
                bank_ref = f"KB{number:010d}"
                statement.writerow(
                    ["2025-03-12", amount, "VND", "credit", bank_ref, reference,
                     f"NOP NSNN {reference}"]
                )  # fmt: skip
                camt.write(
                    f'<Ntry><Amt Ccy="VND">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                    "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2025-03-12</Dt></BookgDt>"
                    f"<AcctSvcrRef>{bank_ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs>"
                    f"<EndToEndId>{reference}</EndToEndId></Refs><RmtInf><Ustrd>NOP NSNN "
                    f"{reference}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
                )
        camt.write("</Stmt></BkToCstmrStmt></Document>\n")


def generate(directory: Path, count: int) -> None:
    write_files(directory, payment_rows(count))


def load_payments(path: Path) -> list[GatewayPayment]:
    """The gateway side, as a repository would load it: codes repeat, so they are interned
    (a million copies of "VND" and "755" would be a few hundred MiB for nothing)."""
    codes: dict[str, str] = {}
    with path.open(newline="") as stream:
        rows = csv.reader(stream)
        next(rows)
        return [
            GatewayPayment(
                payment_id=row[0],
                agency=codes.setdefault(row[1], row[1]),
                amount=int(row[2]),
                currency=codes.setdefault(row[3], row[3]),
                treasury_code=codes.setdefault(row[4], row[4]),
                chapter=codes.setdefault(row[5], row[5]),
                sub_item=codes.setdefault(row[6], row[6]),
                provider=codes.setdefault(row[7], row[7]),
                captured_at=datetime.fromisoformat(row[8]),
            )
            for row in rows
        ]


def run_phase(phase: str, directory: Path) -> tuple[float, str]:
    """One phase in this process: returns (seconds, detail)."""
    if phase in ("csv", "camt"):
        # Streamed and counted, not kept: the parser's own memory. ("match" keeps them.)
        started = time.perf_counter()
        reader = (
            read_csv(directory / "statement.csv", expected_currency="VND")
            if phase == "csv"
            else read_camt(directory / "statement.xml", expected_currency="VND")
        )
        with paused_gc():
            count = sum(1 for _ in reader)
        return time.perf_counter() - started, f"{count} lines, {len(reader.errors)} errors"
    if phase == "match":
        with paused_gc():
            payments = load_payments(directory / "payments.csv")
        _, lines = read_all(read_csv(directory / "statement.csv"))
        started = time.perf_counter()
        report = match_day(DAY, payments, lines, config=MatchConfig())
        elapsed = time.perf_counter() - started
        counts = {k.value: v for k, v in report.counts().items() if v}
        return elapsed, f"{counts}"
    if phase == "pandas":
        import pandas as pd  # noqa: PLC0415 (only this phase needs it; not timed)

        started = time.perf_counter()
        gateway = pd.read_csv(directory / "payments.csv")
        treasury = pd.read_csv(directory / "statement.csv")
        merged = gateway.merge(
            treasury, how="outer", left_on="payment_id", right_on="end_to_end_id", indicator=True
        )
        both = merged[merged["_merge"] == "both"]
        mismatched = int((both["amount_x"] != both["amount_y"]).sum())
        return time.perf_counter() - started, f"{len(merged)} rows, {mismatched} mismatches"
    raise SystemExit(f"unknown phase {phase}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=MAX_LINES)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        seconds, detail = run_phase(args.phase, Path(args.dir))
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{seconds:.3f}\t{peak_mib}\t{detail}")
        return
    if not 0 < args.lines <= MAX_LINES:
        raise SystemExit(f"--lines must be between 1 and {MAX_LINES}")
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as name:
        directory = Path(name)
        started = time.perf_counter()
        generate(directory, args.lines)
        sizes = ", ".join(
            f"{p.name} {p.stat().st_size // 2**20} MiB" for p in sorted(directory.iterdir())
        )
        print(f"generated {args.lines} payments in {time.perf_counter() - started:.1f} s ({sizes})")
        results: dict[str, tuple[float, int, str]] = {}
        for phase in ("csv", "camt", "match", "pandas"):
            out = subprocess.run(
                [sys.executable, "-m", "bench.reconcile_match", "--phase", phase, "--dir", name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            seconds_text, peak_text, detail = out.split("\t", 2)
            results[phase] = (float(seconds_text), int(peak_text), detail)
            print(
                f"{phase:<7} {float(seconds_text):8.2f} s  peak {int(peak_text):6d} MiB  {detail}"
            )
    ratio = results["match"][0] / results["pandas"][0]
    print(f"\n{'phase':<8}{'seconds':>9}{'peak MiB':>10}")
    for phase, (phase_seconds, phase_peak, _) in results.items():
        print(f"{phase:<8}{phase_seconds:9.2f}{phase_peak:10d}")
    print(f"match/pandas = {ratio:.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()
