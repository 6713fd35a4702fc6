"""Hot-account benchmark: entries per second with every writer on one clearing account.

Run:  python -m bench.ledger_hot_account [--seconds 5] [--pgbench-seconds 10] [--processes 2]
                                         [--rounds 3]
      (PAYMENTS_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test)

It creates a throw-away PostgreSQL database, migrates it, and for 1, 8, 32 and 64 concurrent
writers posts "payment succeeded" entries (Dr clearing:vnpay / Cr budget-payable:...) through
the real write path, one unit of work per entry, for a fixed time; the writers are spread
over ``--processes`` Python processes (one process saturates a core before PostgreSQL does).
Then, on the same machine in
the same run, it measures pgbench's default tpcb-like script (scale 10) at the same client
counts, prints both side by side and drops both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg

from payments.adapters.db.engine import make_engine
from payments.adapters.db.migrations import upgrade_to_head
from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.unit_of_work import SqlUnitOfWorkFactory

ADMIN_URL = os.environ.get(
    "PAYMENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WRITERS = (1, 8, 32, 64)
SUB_ITEMS = ("1001", "2862", "3052", "4254")
# Connections per writer process, and no overflow: however many writers there are, the
# database sees a bounded pool, as behind any web process. More active backends than cores
# only add context switches (pgbench's own figures fall from 8 to 64 clients).
POOL_SIZE = 4


@dataclass(frozen=True)
class Row:
    writers: int
    entries_per_second: int
    pgbench_tps: int


def database_url(name: str, driver: str = "postgresql") -> str:
    base = ADMIN_URL.rpartition("/")[0].replace("postgresql://", f"{driver}://")
    return f"{base}/{name}"


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _ledger_rate(url: str, writers: int, seconds: float) -> int:
    # Writers share a bounded pool, as concurrent requests of a web process do: past a few
    # connections per core PostgreSQL only adds context switches (pgbench shows it too).
    engine = make_engine(url, pool_size=min(writers, POOL_SIZE), max_overflow=0)
    uow_factory = SqlUnitOfWorkFactory(engine)
    deadline = time.monotonic() + seconds
    run = uuid.uuid4().hex[:8]

    async def writer(number: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            draft = EntryDraft(
                source_key=f"bench-{run}-{number}-{done}",
                description="Payment succeeded",
                occurred_at=now,
                legs=(
                    debit(chart.provider_clearing("vnpay"), 150_000),
                    credit(chart.budget_payable("DVC", SUB_ITEMS[done % len(SUB_ITEMS)]), 150_000),
                ),
            )
            async with uow_factory() as uow:
                await post_entry(uow.ledger, draft, now=now)
                await uow.commit()
            done += 1
        return done

    try:
        started = time.monotonic()
        counts = await asyncio.gather(*(writer(n) for n in range(writers)))
        elapsed = time.monotonic() - started
    finally:
        await engine.dispose()
    return round(sum(counts) / elapsed) if elapsed else 0


def _rate_in_process(url: str, writers: int, seconds: float) -> int:
    return asyncio.run(_ledger_rate(url, writers, seconds))


async def _ledger_rate_processes(url: str, writers: int, seconds: float, processes: int) -> int:
    """Split the writers over a few processes, as a deployment runs several web processes:
    one Python process is CPU-bound near 1 core, and we are measuring the database."""
    split = [writers // processes + (1 if n < writers % processes else 0) for n in range(processes)]
    split = [count for count in split if count]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=len(split)) as pool:
        rates = await asyncio.gather(
            *(loop.run_in_executor(pool, _rate_in_process, url, n, seconds) for n in split)
        )
    return sum(rates)


def _pgbench(args: list[str]) -> str:
    parts = urlsplit(ADMIN_URL)
    connection = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    connection += ["-U", parts.username or "postgres"]
    done = subprocess.run(
        ["pgbench", *connection, *args], capture_output=True, text=True, check=True
    )
    return done.stdout + done.stderr


def _pgbench_tps(database: str, clients: int, seconds: int) -> int:
    out = _pgbench(["-c", str(clients), "-j", str(min(2, clients)), "-T", str(seconds), database])
    found = re.search(r"tps = (\d+)", out)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    return int(found.group(1))


async def _run(seconds: float, pgbench_seconds: int, processes: int, rounds: int) -> list[Row]:
    ledger_db = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    pgbench_db = f"pgbench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{ledger_db}"')
    await admin(f'CREATE DATABASE "{pgbench_db}"')
    try:
        await asyncio.to_thread(upgrade_to_head, database_url(ledger_db, "postgresql+asyncpg"))
        # Writer counts take turns, round after round, and each reports its median: on a
        # shared machine a neighbour's burst then hits every count alike.
        samples: dict[int, list[int]] = {writers: [] for writers in WRITERS}
        for round_number in range(1, rounds + 1):
            for writers in WRITERS:
                rate = await _ledger_rate_processes(
                    database_url(ledger_db, "postgresql+asyncpg"), writers, seconds, processes
                )
                samples[writers].append(rate)
                print(
                    f"round {round_number}: ledger {writers:>3} writers: {rate:>6} entries/s",
                    flush=True,
                )
        rates = {writers: int(statistics.median(found)) for writers, found in samples.items()}
        await asyncio.to_thread(_pgbench, ["-i", "-s", "10", "-q", pgbench_db])
        rows = []
        for writers in WRITERS:
            tps = await asyncio.to_thread(_pgbench_tps, pgbench_db, writers, pgbench_seconds)
            print(f"pgbench  {writers:>3} clients: {tps:>6} tps", flush=True)
            rows.append(Row(writers, rates[writers], tps))
        return rows
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{ledger_db}" WITH (FORCE)')
        await admin(f'DROP DATABASE IF EXISTS "{pgbench_db}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=5, help="per ledger writer count")
    parser.add_argument("--pgbench-seconds", type=int, default=10, help="per pgbench run")
    parser.add_argument("--processes", type=int, default=2, help="writer processes")
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs")
    options = parser.parse_args()
    rows = asyncio.run(
        _run(options.seconds, options.pgbench_seconds, options.processes, options.rounds)
    )
    print()
    print(f"{'writers':>7} {'entries/s':>10} {'pgbench tps':>12} {'ratio':>7}")
    for row in rows:
        ratio = row.entries_per_second * 100 // max(row.pgbench_tps, 1)
        print(f"{row.writers:>7} {row.entries_per_second:>10} {row.pgbench_tps:>12} {ratio:>6}%")
    by_writers = {row.writers: row for row in rows}
    holds = by_writers[64].entries_per_second >= by_writers[8].entries_per_second
    print(f"\n64 writers >= 8 writers (no collapse on the hot account): {holds}")


if __name__ == "__main__":
    main()
