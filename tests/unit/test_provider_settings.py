"""Provider settings: simulators by default in sandbox mode, refusal to start without secrets."""

from __future__ import annotations

from typing import Any

import pytest

from payments.domain.errors import InvalidConfiguration
from payments.entrypoints.app import create_app
from payments.entrypoints.web.i18n import choose_language
from payments.settings import SANDBOX_HELP_CONTACT, Settings
from tests.support.api import TEST_PROVIDERS


def test_sandbox_defaults_point_at_the_simulators() -> None:
    settings = Settings(sandbox=True, base_url="http://127.0.0.1:8000/")
    assert settings.vnpay.pay_url == "http://127.0.0.1:8000/sandbox/vnpay/paymentv2/vpcpay.html"
    assert settings.momo.api_url == "http://127.0.0.1:8000/sandbox/momo"
    assert settings.provider_problems() == []
    assert "hash_secret" not in repr(settings.vnpay)


def test_outside_sandbox_missing_or_placeholder_secrets_stop_start_up() -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        create_app(Settings(log_level="warning"))
    assert "PAYMENTS_VNPAY_HASH_SECRET is missing or a placeholder" in refused.value.detail
    placeholder: dict[str, Any] = {**TEST_PROVIDERS, "momo_secret_key": "changeme"}
    problems = Settings(**placeholder).provider_problems()
    assert problems == ["PAYMENTS_MOMO_SECRET_KEY is missing or a placeholder"]
    sandbox_secret: dict[str, Any] = {
        **TEST_PROVIDERS,
        "vnpay_hash_secret": "sandbox-vnpay-hash-secret",
    }
    assert Settings(**sandbox_secret).provider_problems() == [
        "PAYMENTS_VNPAY_HASH_SECRET is a sandbox secret"
    ]
    assert "changeme" not in str(problems)


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "vi"),
        ("en", "vi", "en"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr, en;q=0.3, vi;q=0.8", "vi"),
        (None, "en;q=0, vi;q=0.1", "vi"),
        (None, "en;q=abc", "vi"),
        ("xx", "de", "vi"),
    ],
)
def test_language_choice(query: str | None, header: str | None, expected: str) -> None:
    assert choose_language(query, header) == expected


def test_the_payers_help_contact_defaults_to_the_sandbox_one_or_to_the_agency() -> None:
    assert Settings(sandbox=False).payer_help_contact is None
    assert Settings(sandbox=True).payer_help_contact == SANDBOX_HELP_CONTACT
    assert Settings(help_contact="  1900 9999 ").payer_help_contact == "1900 9999"
    with pytest.raises(ValueError, match="one line"):
        Settings(help_contact="1900 9999\nhotro@example.com")
