"""``payments reconcile --fetch`` against endpoints on a real port: the treasury statement and
the providers' settlement reports are fetched and imported, and the summary says, per provider,
whether its report was imported, already imported, skipped (not configured) or failed."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from payments.domain.attempts import Provider
from payments.entrypoints.cli import cli
from payments.reconcile.formats.settlements import write_settlement
from payments.reconcile.rules.sandbox_day import sandbox_settlement
from payments.reconcile.usecases.day import captured_on
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.reconcile_days import DAY, csv_line, gateway, statement

Files = dict[str, tuple[int, bytes]]  # path -> (status, body)


class Endpoints(ThreadingHTTPServer):
    files: Files
    asked: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Endpoints

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.asked.append(self.path)
        code, body = self.server.files.get(path, (404, b"not found"))
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def endpoints() -> Iterator[Endpoints]:
    server = Endpoints(("127.0.0.1", 0), Handler)
    server.files, server.asked = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
async def day(uow_factory: SqlUnitOfWorkFactory) -> Files:
    """A VNPay and a MoMo payment of DAY: the treasury's statement and each provider's report
    list both."""
    gw = await gateway(uow_factory)
    await gw.paid(150_000, provider=Provider.VNPAY)
    await gw.paid(70_000, provider=Provider.MOMO)
    captured = await captured_on(uow_factory, DAY)
    lines = (csv_line(p.payment_id, p.amount) for p in captured)
    files: Files = {"/statement": (200, statement(*lines))}
    for provider in ("vnpay", "momo"):
        out = io.StringIO()
        write_settlement(provider, sandbox_settlement(provider, DAY, captured), out)
        files[f"/{provider}"] = (200, out.getvalue().encode())
    return files


def table(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.strip()}


def test_fetch_brings_the_settlement_reports_and_says_what_became_of_each(
    database_url: str, endpoints: Endpoints, day: Files
) -> None:
    files = day
    base = f"http://127.0.0.1:{endpoints.server_address[1]}"
    env = {
        "PAYMENTS_SANDBOX": "false",
        "PAYMENTS_TREASURY_STATEMENT_URL": f"{base}/statement",
        "PAYMENTS_VNPAY_SETTLEMENT_URL": f"{base}/vnpay",
        "PAYMENTS_MOMO_SETTLEMENT_URL": f"{base}/momo",
    }
    args = ["reconcile", "--date", DAY.isoformat(), "--database-url", database_url, "--quiet"]
    runner = CliRunner()
    endpoints.files = {**files, "/momo": (500, b"down")}

    first = runner.invoke(cli, [*args, "--fetch"], env=env)

    assert first.exit_code == 0, first.output  # the treasury side is done all the same
    assert "  vnpay  imported (1 line)" in first.output
    assert (
        "  momo   FAILED: the momo settlement endpoint answered 500;"
        " rerun the day with --fetch once it is there" in first.output
    )
    assert table(first.output)["matched"] == ["2", "220.000", "220.000"]
    assert "provider_missing" not in first.output
    assert "1 confirmed payment(s) wait for their provider's settlement report" in first.output
    assert f"/vnpay?date={DAY.isoformat()}" in endpoints.asked

    endpoints.files = files  # MoMo's report is there now
    second = runner.invoke(cli, [*args, "--fetch"], env=env)
    assert second.exit_code == 0, second.output
    assert "  vnpay  already imported (1 line)" in second.output
    assert "  momo   imported (1 line)" in second.output
    # MoMo's report books its settlement, which releases its payment's remittance.
    assert "1 provider settlement(s) booked, 1 payment(s) remitted" in second.output

    endpoints.asked.clear()
    unset = {**env, "PAYMENTS_MOMO_SETTLEMENT_URL": ""}
    third = runner.invoke(cli, [*args, "--fetch"], env=unset)
    assert third.exit_code == 0, third.output
    assert "  momo   skipped: PAYMENTS_MOMO_SETTLEMENT_URL is not set" in third.output
    assert not any(path.startswith("/momo") for path in endpoints.asked)

    endpoints.asked.clear()
    statement_only = runner.invoke(cli, [*args, "--fetch", "--no-settlements"], env=env)
    assert statement_only.exit_code == 0, statement_only.output
    assert "Settlement reports" not in statement_only.output
    assert [path.split("?")[0] for path in endpoints.asked] == ["/statement"]

    alone = runner.invoke(cli, [*args, "--no-settlements"], env=env)
    assert alone.exit_code == 2
