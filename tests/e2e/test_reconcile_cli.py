"""``payments reconcile`` against a real database: a statement and a settlement report in, a
summary table out; a bad file is refused with its line numbers and nothing imported."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from payments.entrypoints.cli import cli
from payments.reconcile.formats.settlements import write_settlement
from payments.reconcile.rules.sandbox_day import sandbox_settlement
from payments.reconcile.usecases.day import captured_on
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.reconcile_days import DAY, csv_line, gateway, statement


@pytest.fixture
async def files(uow_factory: SqlUnitOfWorkFactory, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    gw = await gateway(uow_factory)
    paid = [(await gw.paid(150_000)).id, (await gw.paid(250_000)).id]
    statement_file = tmp_path / "statement.csv"
    statement_file.write_bytes(statement(csv_line(paid[0], 150_000)))
    report = io.StringIO()
    # VNPay's report lists the first capture only: the second is provider_missing.
    first_only = [p for p in await captured_on(uow_factory, DAY) if p.payment_id == paid[0]]
    write_settlement("vnpay", sandbox_settlement("vnpay", DAY, first_only), report)
    settlement_file = tmp_path / "vnpay.csv"
    settlement_file.write_text(report.getvalue())
    return statement_file, settlement_file, paid


def test_reconcile_a_day_from_files(
    database_url: str, files: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    statement_file, settlement_file, paid = files
    runner = CliRunner()
    args = ["reconcile", "--date", DAY.isoformat(), "--database-url", database_url]
    done = runner.invoke(
        cli,
        [*args, "--statement", str(statement_file), "--settlement", str(settlement_file),
         "--provider", "vnpay"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert (
        "1 provider settlement(s) booked, 1 payment(s) remitted, in 2 ledger entries" in done.output
    )
    table = {line.split()[0]: line.split()[1:] for line in done.output.splitlines() if line}
    assert table["matched"] == ["1", "150.000", "150.000"]
    assert table["missing_at_treasury"] == ["1", "250.000", "0"]
    assert table["provider_missing"] == ["1", "250.000", "0"]

    again = runner.invoke(cli, [*args, "--statement", str(statement_file), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "already imported: nothing new" in again.output
    assert "0 provider settlement(s) booked, 0 payment(s) remitted" in again.output
    # The rerun checks VNPay's stored report again, without being given it.
    rerun = {line.split()[0]: line.split()[1:] for line in again.output.splitlines() if line}
    assert rerun["provider_missing"] == ["1", "250.000", "0"]

    bad = tmp_path / "bad.csv"
    bad.write_bytes(statement(csv_line(paid[1]), "2025-03-12,12x,VND,credit,,,\n"))
    refused = runner.invoke(cli, [*args, "--statement", str(bad), "--quiet"])
    assert refused.exit_code == 1
    assert "line 3" in refused.output

    unpaired = runner.invoke(cli, [*args, "--settlement", str(settlement_file)])
    assert unpaired.exit_code == 2
