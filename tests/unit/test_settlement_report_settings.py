"""Where the nightly job fetches the providers' settlement reports: the simulators by default
in sandbox mode, nowhere until configured outside it, and never VietQR."""

from __future__ import annotations

from typing import Any

from payments.reconcile.sources.settlement_reports import SettlementSource, settlement_sources
from payments.settings import Settings
from tests.support.api import TEST_PROVIDERS


def test_sandbox_reports_come_from_the_simulators_unless_switched_off() -> None:
    settings = Settings(sandbox=True, base_url="http://127.0.0.1:8000/")
    assert settlement_sources(settings) == [
        SettlementSource("vnpay", "http://127.0.0.1:8000/sandbox/vnpay/settlement"),
        SettlementSource("momo", "http://127.0.0.1:8000/sandbox/momo/settlement"),
    ]
    off = Settings(sandbox=True, vnpay_settlement_url="")  # empty: switched off
    assert [s.url for s in settlement_sources(off)] == [
        "",
        "http://127.0.0.1:8000/sandbox/momo/settlement",
    ]


def test_outside_sandbox_a_report_is_fetched_only_when_configured() -> None:
    providers: dict[str, Any] = dict(TEST_PROVIDERS)
    unset = Settings(**providers)
    assert [(s.provider, s.url) for s in settlement_sources(unset)] == [("vnpay", ""), ("momo", "")]
    assert settlement_sources(unset)[1].variable == "PAYMENTS_MOMO_SETTLEMENT_URL"
    configured = Settings(
        **providers,
        momo_settlement_url="https://momo.test/settlement",
        momo_settlement_token="momo-report-token-0123",
    )
    [_, momo] = settlement_sources(configured)
    assert (momo.url, momo.token) == ("https://momo.test/settlement", "momo-report-token-0123")
    assert "momo-report-token-0123" not in repr(configured)
    assert "momo-report-token-0123" not in repr(configured.momo)
