"""The full-run benchmark (``bench/reconcile_full.py``) at a tiny size, so that it cannot rot
unnoticed: the same seeding, files, per-phase processes (CSV, camt.053, pandas) and report as
``python -m bench.reconcile_full --lines 1000000``, on 2,000 payments."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.reconcile_full import prepare, report, run_in_process
from tests.support.databases import PostgresTemplate, asyncpg_dsn

pytestmark = pytest.mark.postgres_only

COUNT = 2_000
# Every thousandth payment of each kind of discrepancy (bench.reconcile_full.write_files).
OUTCOMES = {
    "matched": 1_994,
    "amount_mismatch": 2,
    "duplicate": 2,
    "unknown_at_gateway": 2,
    "missing_at_treasury": 4,
}


def test_the_full_run_benchmark_runs_and_reports(
    backend: str, postgres_template: PostgresTemplate | None, tmp_path: Path
) -> None:
    assert backend == "postgresql"
    assert postgres_template is not None
    urls = [asyncio.run(postgres_template.clone()) for _ in ("csv", "camt")]
    try:
        dsns = [asyncpg_dsn(url) for url in urls]
        prepare(dsns[0], tmp_path, COUNT)
        prepare(dsns[1], tmp_path, COUNT)  # the same rows (seeded generator), the same files
        results = {
            "csv": run_in_process("csv", str(tmp_path), dsns[0]),
            "camt": run_in_process("camt", str(tmp_path), dsns[1]),
            "pandas": run_in_process("pandas", str(tmp_path)),
        }
    finally:
        for url in urls:
            asyncio.run(postgres_template.drop_clone(url))

    for phase in ("csv", "camt"):
        run = results[phase]
        assert run["lines"] == COUNT  # two lines missing, two duplicated
        assert run["totals"] == OUTCOMES
        assert run["items"] == sum(OUTCOMES.values())
        assert (run["posted_payments"], run["posted_entries"]) == (1_994, 1)
        assert run["conserved"] is True
        phases = ("ingest", "load", "match", "post", "persist")
        assert all(run[name] >= 0 for name in phases)
        assert run["total"] >= sum(run[name] for name in phases) * 0.99
        assert run["peak_mib"] > 0
    assert (results["pandas"]["rows"], results["pandas"]["mismatch"]) == (2_004, 2)
    table = report(results)
    header = ["run", "ingest", "load", "match", "post", "persist", "total", "s", "peak", "MiB"]
    assert table[0].split() == header
    assert [line.split()[0] for line in table[1:4]] == ["csv", "camt", "pandas"]
    assert table[-1].startswith("full CSV run ")
    assert "match/pandas = " in table[-1]
