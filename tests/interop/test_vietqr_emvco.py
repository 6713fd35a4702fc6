"""Our VietQR payloads against the PyPI parser ``vietqr-emvco``.

That package decides static/dynamic from the amount, and the protocol notes warn that parsers
disagree on the ``01`` values, so we test what matters for a transfer: CRC, amount, bank BIN,
account and the purpose carrying the reference.
"""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from vietqr_emvco import VietQRGenerator, VietQRParser

from payments.providers.vietqr import qr as vietqr


@settings(max_examples=200)
@given(
    reference=st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=25),
    amount=st.integers(min_value=1, max_value=10**13 - 1),
    account=st.from_regex(r"[0-9]{6,19}", fullmatch=True),
    bank_bin=st.sampled_from(["970415", "970436", "970418", "970405"]),
)
def test_our_payloads_pass_their_parser(
    reference: str, amount: int, account: str, bank_bin: str
) -> None:
    payload = vietqr.build_payload(
        bank_bin=bank_bin, account=account, amount=amount, currency="VND", purpose=reference
    )
    assert VietQRParser.verify_checksum(payload)
    parsed = VietQRParser.parse(payload)
    assert parsed["raw_tags"]["54"] == str(amount)
    assert (parsed["bank_bin"], parsed["account_number"]) == (bank_bin, account)
    assert parsed["memo"] == reference
    assert parsed["napas_guid"] == vietqr.NAPAS_GUID
    assert (parsed["currency"], parsed["country_code"]) == ("704", "VN")


def test_their_tampered_crc_check_agrees_with_ours() -> None:
    payload = vietqr.build_payload(
        bank_bin="970415",
        account="0011001932418",
        amount=120_000,
        currency="VND",
        purpose="PF7K2M9Q4X",
    )
    tampered = payload.replace("120000", "920000")
    assert not VietQRParser.verify_checksum(tampered)


def test_their_payloads_parse_in_ours() -> None:
    payload = VietQRGenerator("970436", "1234567890").generate(amount=25_000, memo="PF7K2M9Q4X")
    parsed = vietqr.parse_payload(payload)
    assert (parsed.bank_bin, parsed.account, parsed.amount) == ("970436", "1234567890", 25_000)
    assert "PF7K2M9Q4X" in parsed.purpose
