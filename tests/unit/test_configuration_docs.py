"""docs/configuration.md is what ``payments docs configuration`` makes from the Settings
fields: a setting added, renamed or redescribed in the code shows up in the docs, or this
fails and says how to regenerate the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from payments.entrypoints.cli import cli
from payments.entrypoints.cli.docs import (
    CONFIGURATION_PAGE,
    REGENERATE,
    configuration_reference,
)
from payments.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_configuration_page_is_the_generated_one() -> None:
    page = ROOT / CONFIGURATION_PAGE
    assert page.is_file(), f"{CONFIGURATION_PAGE} is missing; make it with: {REGENERATE}"
    assert page.read_text(encoding="utf-8") == configuration_reference(), (
        f"{CONFIGURATION_PAGE} differs from payments/settings.py; regenerate it with: {REGENERATE}"
    )


def test_every_setting_has_a_row_with_its_variable_and_description() -> None:
    rows = {
        line.split(" | ")[0].strip("|` "): line
        for line in configuration_reference().splitlines()
        if line.startswith("| `PAYMENTS_")
    }
    assert set(rows) == {f"PAYMENTS_{name.upper()}" for name in Settings.model_fields}
    for name, info in Settings.model_fields.items():
        assert info.description, f"Settings.{name} needs a description"
        assert info.description in rows[f"PAYMENTS_{name.upper()}"]


def test_a_row_shows_type_bounds_default_and_the_sandbox_default() -> None:
    page = configuration_reference()
    assert "| `PAYMENTS_DB_POOL_TIMEOUT` | integer ≥ 1, ≤ 300 | `10` |" in page
    assert "| `PAYMENTS_STATEMENT_FORMAT` | `csv` or `camt` | `csv` |" in page
    assert "| `PAYMENTS_SANDBOX` | boolean | `false` |" in page
    # Provider settings are unset outside sandbox mode and point at the simulators inside it.
    assert "| `PAYMENTS_VNPAY_TMN_CODE` | text | unset (sandbox: `PFSANDBX`) |" in page
    assert (
        "| `PAYMENTS_MOMO_API_URL` | text | unset (sandbox: `$PAYMENTS_BASE_URL/sandbox/momo`) |"
        in page
    )


def test_secrets_are_never_printed_not_even_the_sandbox_ones() -> None:
    page = configuration_reference()
    sandbox = Settings(sandbox=True)
    for secret in (
        sandbox.vnpay.hash_secret,
        sandbox.momo.secret_key,
        sandbox.vietqr.webhook_secret,
    ):
        assert secret not in page
    assert "| `PAYMENTS_VNPAY_HASH_SECRET` | text | unset (sandbox: the simulator's own) |" in page


def test_the_page_ignores_the_environment_it_is_made_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENTS_VNPAY_TMN_CODE", "MYOWNCODE")
    monkeypatch.setenv("PAYMENTS_BASE_URL", "https://gateway.example.vn")
    page = configuration_reference()
    assert "MYOWNCODE" not in page
    assert "gateway.example.vn" not in page


def test_the_command_prints_the_page_or_writes_it(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["docs", "configuration"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == configuration_reference()
    target = tmp_path / "configuration.md"
    written = runner.invoke(cli, ["docs", "configuration", "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == configuration_reference()
