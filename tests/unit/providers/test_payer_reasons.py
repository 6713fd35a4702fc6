"""The providers' result codes in words a payer reads, in Vietnamese and English."""

from __future__ import annotations

import pytest

from payments.providers.momo import protocol as momo
from payments.providers.payer_reasons import PayerReason
from payments.providers.vnpay import protocol as vnpay


def test_vnpay_codes_read_as_reasons() -> None:
    insufficient = vnpay.payer_reason("51/02")
    assert insufficient is not None
    assert "không đủ số dư" in insufficient.vi
    assert not insufficient.stopped_by_payer
    cancelled = vnpay.payer_reason("24/02")
    assert cancelled is not None
    assert cancelled.stopped_by_payer
    assert vnpay.payer_reason("99/02") is None
    assert vnpay.payer_reason("") is None


def test_momo_codes_read_as_reasons() -> None:
    insufficient = momo.payer_reason("1001")
    assert insufficient is not None
    assert insufficient.text("en") == "There was not enough money in the MoMo wallet."
    declined = momo.payer_reason("1006")
    assert declined is not None
    assert declined.stopped_by_payer
    for unknown in ("13", "abc", "", "١٠٠١"):  # a merchant error, garbage, Arabic digits
        assert momo.payer_reason(unknown) is None


@pytest.mark.parametrize(
    "reason", [*vnpay.PAYER_REASONS.values(), *momo.PAYER_REASONS.values()], ids=repr
)
def test_every_reason_reads_in_both_languages(reason: PayerReason) -> None:
    assert reason.vi
    assert reason.en
    assert reason.vi != reason.en
    assert reason.vi.endswith(".")
    assert reason.en.endswith(".")
    assert reason.text("vi") == reason.vi
    assert reason.text("en") == reason.en
