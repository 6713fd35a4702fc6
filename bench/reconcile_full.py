"""Benchmark: the full nightly reconciliation of 1,000,000 statement lines on PostgreSQL,
next to a pandas baseline, in one run.

Run::

    . .venv/bin/activate
    python -m bench.reconcile_full --lines 1000000      # at most 1,000,000

What it does:

1. makes a throw-away PostgreSQL database (``BENCH_POSTGRES_URL``, as ``bench.payments_create``),
   migrates it and seeds ``--lines`` succeeded payments with their successful attempts by COPY
   (not timed); writes the treasury statement of the day as CSV (default layout) and as
   camt.053.001.08 with a few discrepancies of every kind (0.1 % missing, unknown, amount
   mismatches, duplicates), and the gateway's CSV export of the payments for the baseline;
2. clones the seeded database twice (``CREATE DATABASE ... TEMPLATE``) and, each in its own
   Python process (so ``ru_maxrss`` is that run's peak), runs the full reconciliation the way
   ``payments reconcile --date D --statement FILE`` does: ``import_statement`` (parse, COPY the
   lines), then ``reconcile_day`` (load lines and payments, match, post the remittances to the
   ledger through ``post_entry``, COPY the items, commit), once for the CSV file and once for
   the camt.053 file;
3. runs the baseline a treasury analyst would write in its own process: ``pandas.read_csv`` of
   the two CSV exports and an outer merge on the reference;
4. prints wall time per phase, peak memory, and the ratios. Targets: the full CSV run within
   30 s and 1 GiB peak; the matching step no slower than 2x the pandas baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.payments_create import admin_execute, dsn_for, throwaway_database
from bench.reconcile_match import (
    AGENCIES,
    DAY,
    START,
    SUB_ITEMS,
    payment_id,
    payment_rows,
    write_files,
)

MAX_LINES = 1_000_000
NOW = datetime(2025, 3, 12, 18, 0, tzinfo=UTC)  # 01:00 the next morning in Hanoi


def attempt_id(number: int) -> str:
    return "att_" + payment_id(number)[4:]


# --- seeding (not timed) --------------------------------------------------------------------


async def seed(dsn: str, rows: list[tuple[str, int, str, int, datetime]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        agency_ids = []
        for code in AGENCIES:
            agency_ids.append(
                await conn.fetchval(
                    "INSERT INTO agencies (code, name, allowed_hosts, created_at) "
                    "VALUES ($1, $2, '[]', $3) RETURNING id",
                    code,
                    code,
                    START,
                )
            )
        expires = START + timedelta(days=1)
        metadata = json.dumps({})
        await conn.copy_records_to_table(
            "payments",
            columns=(
                "id",
                "agency_id",
                "reference",
                "kind",
                "amount",
                "currency",
                "description",
                "payer_name",
                "treasury_account",
                "treasury_code",
                "collecting_agency",
                "chapter",
                "sub_item",
                "return_url",
                "metadata",
                "status",
                "checkout_token",
                "expires_at",
                "created_at",
                "updated_at",
            ),
            records=(
                (
                    pid,
                    agency_ids[agency],
                    f"R{pid[-12:]}",
                    "fee",
                    amount,
                    "VND",
                    "Le phi",
                    "Nguyen Van A",
                    "7111",
                    "0011",
                    AGENCIES[agency],
                    "755",
                    SUB_ITEMS[agency],
                    "https://portal.example.vn/back",
                    metadata,
                    "succeeded",
                    pid[4:],
                    expires,
                    captured,
                    captured,
                )
                for pid, agency, _, amount, captured in rows
            ),
        )
        await conn.copy_records_to_table(
            "payment_attempts",
            columns=(
                "id",
                "payment_id",
                "provider",
                "provider_ref",
                "merchant",
                "amount",
                "currency",
                "status",
                "created_at",
                "updated_at",
            ),
            records=(
                (
                    "att_" + pid[4:],
                    pid,
                    provider,
                    "att_" + pid[4:] if provider != "vietqr" else "PF" + pid[-10:],
                    "BENCH",
                    amount,
                    "VND",
                    "succeeded",
                    captured,
                    captured,
                )
                for pid, _, provider, amount, captured in rows
            ),
        )
        # The providers' settlements were booked when their reports came in, before the
        # treasury's statement: the timed run remits (a remittance waits for its settlement).
        await conn.copy_records_to_table(
            "reconcile_settlements",
            columns=("payment_id", "business_date", "run_id", "provider", "fee", "entry_id"),
            records=((pid, DAY, 0, provider, 0, None) for pid, _, provider, _, _ in rows),
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# --- the timed phases, each in its own process ----------------------------------------------


async def full_run(dsn: str, statement: Path, fmt: str) -> dict[str, Any]:
    from payments.adapters.db.engine import make_engine  # noqa: PLC0415
    from payments.reconcile.sources.treasury import statement_reader  # noqa: PLC0415
    from payments.reconcile.usecases.day import reconcile_day  # noqa: PLC0415
    from payments.reconcile.usecases.imports import import_statement  # noqa: PLC0415
    from payments.unit_of_work import SqlUnitOfWorkFactory  # noqa: PLC0415

    engine = make_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"), pool_size=2)
    uow = SqlUnitOfWorkFactory(engine)
    marks: dict[str, float] = {}

    def mark(phase: str, _done: int) -> None:
        marks[phase] = time.perf_counter()

    try:
        started = time.perf_counter()
        imported = await import_statement(
            uow,
            statement_reader(statement, fmt),
            business_date=DAY,
            actor="bench",
            now=NOW,
            keep_lines=True,
        )
        ingested = time.perf_counter()
        preloaded = {imported.statement.id: imported.lines or []}
        imported = replace(imported, lines=None)  # the run consumes (and frees) them
        result = await reconcile_day(uow, DAY, now=NOW, progress=mark, preloaded=preloaded)
        finished = time.perf_counter()
    finally:
        await engine.dispose()
    run = result.run
    posted_at = marks.get("post", marks["match"])
    return {
        "ingest": ingested - started,
        "load": marks["load"] - ingested,
        "match": marks["match"] - marks["load"],
        "post": posted_at - marks["match"],
        "persist": finished - posted_at,
        "total": finished - started,
        "lines": imported.statement.line_count,
        "items": run.item_count,
        "posted_payments": run.posted_payments,
        "posted_entries": run.posted_entries,
        "totals": {k: v.count for k, v in run.totals.items()},
        "conserved": run.matched_gateway_total == run.matched_treasury_total,
    }


def pandas_baseline(directory: Path) -> dict[str, Any]:
    import pandas as pd  # noqa: PLC0415 (only this phase needs it; not timed)

    started = time.perf_counter()
    gateway = pd.read_csv(directory / "payments.csv")
    treasury = pd.read_csv(directory / "statement.csv")
    merged = gateway.merge(
        treasury, how="outer", left_on="payment_id", right_on="end_to_end_id", indicator=True
    )
    both = merged[merged["_merge"] == "both"]
    mismatched = int((both["amount_x"] != both["amount_y"]).sum())
    return {"total": time.perf_counter() - started, "rows": len(merged), "mismatch": mismatched}


def run_phase(args: argparse.Namespace) -> None:
    directory = Path(args.dir)
    if args.phase == "pandas":
        result = pandas_baseline(directory)
    else:
        statement = directory / ("statement.csv" if args.phase == "csv" else "statement.xml")
        result = asyncio.run(
            full_run(args.dsn, statement, "csv" if args.phase == "csv" else "camt")
        )
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(result))


ROOT = Path(__file__).resolve().parents[1]


def run_in_process(phase: str, directory: str, dsn: str = "") -> dict[str, Any]:
    """One timed phase in its own Python process (its ``ru_maxrss`` is that phase's peak)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.reconcile_full", "--phase", phase, "--dir", directory,
         "--dsn", dsn],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    found: dict[str, Any] = json.loads(out.splitlines()[-1])
    return found


def prepare(dsn: str, directory: Path, count: int) -> None:
    """Seed a migrated database with ``count`` payments and write the day's files."""
    rows = payment_rows(count)
    asyncio.run(seed(dsn, rows))
    write_files(directory, rows)


def benchmark(count: int) -> None:
    from payments.adapters.db.migrations import upgrade_to_head  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory(prefix="bench-reconcile-full-") as folder,
        throwaway_database("bench_recon_seed") as seeded,
    ):
        directory = Path(folder)
        started = time.perf_counter()
        upgrade_to_head(dsn_for(seeded))
        prepare(dsn_for(seeded), directory, count)
        sizes = ", ".join(
            f"{p.name} {p.stat().st_size // 2**20} MiB" for p in sorted(directory.iterdir())
        )
        print(f"seeded {count} payments, wrote files in {time.perf_counter() - started:.1f} s")
        print(f"  ({sizes})")
        results: dict[str, dict[str, Any]] = {}
        for phase in ("csv", "camt"):
            with throwaway_database(f"bench_recon_{phase}") as name:
                asyncio.run(admin_execute(f'DROP DATABASE "{name}"'))
                asyncio.run(admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{seeded}"'))
                results[phase] = run_in_process(phase, folder, dsn_for(name))
        results["pandas"] = run_in_process("pandas", folder)
    print()
    print("\n".join(report(results)))


def report(results: dict[str, dict[str, Any]]) -> list[str]:
    """The table of phases, peaks and ratios, and the verdict against the targets."""
    header = f"{'run':<7}{'ingest':>8}{'load':>7}{'match':>7}{'post':>7}{'persist':>8}"
    lines = [f"{header}{'total s':>9}{'peak MiB':>10}"]
    for phase in ("csv", "camt"):
        r = results[phase]
        lines.append(
            f"{phase:<7}{r['ingest']:8.2f}{r['load']:7.2f}{r['match']:7.2f}{r['post']:7.2f}"
            f"{r['persist']:8.2f}{r['total']:9.2f}{r['peak_mib']:10d}"
        )
    p = results["pandas"]
    lines.append(f"{'pandas':<7}{'':>37}{p['total']:9.2f}{p['peak_mib']:10d}")
    csv_run = results["csv"]
    lines.append(
        f"\ncsv: {csv_run['lines']} lines, {csv_run['items']} items, "
        f"{csv_run['posted_payments']} payments remitted in {csv_run['posted_entries']} ledger "
        f"entries, conserved={csv_run['conserved']}; outcomes {csv_run['totals']}"
    )
    lines.append(f"pandas: {p['rows']} merged rows, {p['mismatch']} amount mismatches")
    lines.append(
        f"full CSV run {csv_run['total']:.2f} s (target <= 30), peak {csv_run['peak_mib']} MiB "
        f"(target <= 1024); match/pandas = {csv_run['match'] / p['total']:.2f} (target <= 2.0)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=MAX_LINES)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return
    if not 0 < args.lines <= MAX_LINES:
        raise SystemExit(f"--lines must be between 1 and {MAX_LINES}")
    benchmark(args.lines)


if __name__ == "__main__":
    main()
