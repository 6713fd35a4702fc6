"""VietQR (NAPAS 247) dynamic bank-transfer QR payloads, their CRC, and matching references.

A payload is EMVCo TLV: two-digit id, two-digit length, value. We build dynamic codes (point of
initiation ``12``: one payment, fixed amount) with the payment reference in the purpose field
(62/08), so the bank's credit notification can be matched back with ``find_reference``.
The collection bank's signed credit notification lives in ``vietqr.credit``.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Collection
from dataclasses import dataclass

import segno

from payments.domain.errors import FieldProblem, InvalidInput, PaymentsError
from payments.domain.money import parse_decimal_amount
from payments.providers.ascii_text import fold_to_ascii

NAPAS_GUID = "A000000727"
TO_ACCOUNT = "QRIBFTTA"
TO_CARD = "QRIBFTTC"
STATIC = "11"
DYNAMIC = "12"
# Tag 53 is the ISO 4217 numeric code; NAPAS 247 transfers are in dong only.
NUMERIC_CURRENCIES = {"VND": "704"}
CURRENCIES = frozenset(NUMERIC_CURRENCIES)
_ALPHA_CURRENCIES = {numeric: alpha for alpha, numeric in NUMERIC_CURRENCIES.items()}
PURPOSE_MAX = 25
_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
# Separators banks and payers put inside a reference ("AB-12 CD"): ignored when matching.
_SEPARATORS = re.compile(r"[\s\-_.,:;/|]+")


class InvalidQrPayload(PaymentsError):
    title = "Invalid VietQR payload"


def crc16_ccitt_false(text: str) -> str:
    """CRC-16/CCITT-FALSE as 4 uppercase hex digits (``123456789`` -> ``29B1``).

    ``binascii.crc_hqx`` is the same polynomial (0x1021, no reflection, no final xor); starting
    it at 0xFFFF makes it the CCITT-FALSE variant.
    """
    return f"{binascii.crc_hqx(text.encode(), 0xFFFF):04X}"


def _tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise InvalidInput([FieldProblem(f"tag {tag}", "longer than 99 characters")])
    return f"{tag}{len(value):02d}{value}"


def _ascii_field(name: str, text: str, limit: int) -> str:
    folded = fold_to_ascii(text, allowed_punctuation=" -_.,:/#()")
    if not folded or len(folded) > limit:
        raise InvalidInput([FieldProblem(name, f"1-{limit} ASCII characters after folding")])
    return folded


def build_payload(
    *,
    bank_bin: str,
    account: str,
    amount: int,
    currency: str,
    purpose: str,
    to_card: bool = False,
    merchant_name: str | None = None,
    merchant_city: str | None = None,
) -> str:
    """A dynamic VietQR payload; ``amount`` in minor units of ``currency`` (one of
    ``CURRENCIES``: any other is refused), ``purpose`` must carry the reference.

    ``purpose`` is folded to ASCII (banks strip diacritics anyway) and refused, not cut, when
    longer than 25 characters: cutting could cut the reference off.
    """
    problems: list[FieldProblem] = []
    if currency not in NUMERIC_CURRENCIES:
        problems.append(FieldProblem("currency", f"VietQR takes {', '.join(sorted(CURRENCIES))}"))
    if not _BIN.fullmatch(bank_bin):
        problems.append(FieldProblem("bank_bin", "6 digits"))
    if not _ACCOUNT.fullmatch(account):
        problems.append(FieldProblem("account", "1-19 letters or digits"))
    if type(amount) is not int or not 0 < amount < 10**13:
        problems.append(FieldProblem("amount", "a positive whole number of VND, 13 digits max"))
    if problems:
        raise InvalidInput(problems)
    beneficiary = _tlv("00", bank_bin) + _tlv("01", account)
    merchant_account = (
        _tlv("00", NAPAS_GUID)
        + _tlv("01", beneficiary)
        + _tlv("02", TO_CARD if to_card else TO_ACCOUNT)
    )
    parts = [
        _tlv("00", "01"),
        _tlv("01", DYNAMIC),
        _tlv("38", merchant_account),
        _tlv("53", NUMERIC_CURRENCIES[currency]),
        _tlv("54", str(amount)),
        _tlv("58", "VN"),
    ]
    if merchant_name:
        parts.append(_tlv("59", _ascii_field("merchant_name", merchant_name, 25)))
    if merchant_city:
        parts.append(_tlv("60", _ascii_field("merchant_city", merchant_city, 15)))
    parts.append(_tlv("62", _tlv("08", _ascii_field("purpose", purpose, PURPOSE_MAX))))
    body = "".join(parts) + "6304"
    return body + crc16_ccitt_false(body)


@dataclass(frozen=True)
class VietQrPayload:
    point_of_initiation: str  # "12" dynamic, "11" static
    guid: str
    bank_bin: str
    account: str
    service: str
    currency: str
    amount: int | None  # VND; static codes may have none
    country: str
    merchant_name: str
    merchant_city: str
    purpose: str  # 62/08
    bill_number: str  # 62/01
    reference: str  # 62/05
    tags: dict[str, str]  # every top-level tag, raw

    @property
    def dynamic(self) -> bool:
        return self.point_of_initiation == DYNAMIC


def split_tlv(text: str) -> dict[str, str]:
    """Split one level of EMVCo TLV; raises InvalidQrPayload on a broken structure."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        header = text[position : position + 4]
        if len(header) < 4 or not header.isascii() or not header.isdigit():
            raise InvalidQrPayload(f"broken TLV header at position {position}: {header!r}")
        length = int(header[2:])
        value = text[position + 4 : position + 4 + length]
        if len(value) != length:
            raise InvalidQrPayload(f"tag {header[:2]} is cut short")
        if header[:2] in fields:
            raise InvalidQrPayload(f"tag {header[:2]} appears twice")
        fields[header[:2]] = value
        position += 4 + length
    return fields


def parse_payload(payload: str) -> VietQrPayload:
    """Parse and CRC-check a VietQR payload; raises InvalidQrPayload saying what is wrong."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise InvalidQrPayload("the payload does not end with a CRC field (6304....)")
    expected = crc16_ccitt_false(payload[:-4])
    if payload[-4:].upper() != expected:
        raise InvalidQrPayload(f"CRC is {payload[-4:]!r}, the content gives {expected!r}")
    tags = split_tlv(payload)
    if tags.get("00") != "01":
        raise InvalidQrPayload("payload format indicator (00) must be 01")
    merchant = split_tlv(tags.get("38", ""))
    beneficiary = split_tlv(merchant.get("01", ""))
    extra = split_tlv(tags.get("62", ""))
    if merchant.get("00") != NAPAS_GUID or not beneficiary.get("00"):
        raise InvalidQrPayload("no NAPAS beneficiary in merchant account information (38)")
    amount: int | None = None
    if "54" in tags:
        currency = _ALPHA_CURRENCIES.get(tags.get("53", ""))
        if currency is None:
            raise InvalidQrPayload(f"currency (53) {tags.get('53', '')!r} is not one VietQR takes")
        try:
            amount = parse_decimal_amount(tags["54"], currency)
        except ValueError as exc:
            raise InvalidQrPayload(f"amount (54): {exc}") from exc
    return VietQrPayload(
        point_of_initiation=tags.get("01", ""),
        guid=merchant["00"],
        bank_bin=beneficiary.get("00", ""),
        account=beneficiary.get("01", ""),
        service=merchant.get("02", ""),
        currency=tags.get("53", ""),
        amount=amount,
        country=tags.get("58", ""),
        merchant_name=tags.get("59", ""),
        merchant_city=tags.get("60", ""),
        purpose=extra.get("08", ""),
        bill_number=extra.get("01", ""),
        reference=extra.get("05", ""),
        tags=tags,
    )


def svg_qr(payload: str) -> str:
    """The QR code as an inline SVG document (segno; no Pillow)."""
    # Error level M survives a smudged or partly covered print; boost_error may raise it further.
    code = segno.make(payload, error="m", micro=False)
    return code.svg_inline(scale=4, border=4)


# --- matching a credit back to a payment ------------------------------------------------------


def _comparable(text: str) -> str:
    return fold_to_ascii(text, allowed_punctuation=" -_.,:;/|").upper()


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", text)


def find_references(description: str, candidates: Collection[str] | re.Pattern[str]) -> list[str]:
    """References found in a bank transfer description, in order of appearance, no repeats.

    Matching ignores case and diacritics, and separators banks or payers insert
    (``"ab-12 cd"`` finds ``AB12CD``). ``candidates`` is either the set of open references or a
    compiled pattern of the reference format (matched against upper-case, compacted text).
    """
    text = _comparable(description)
    compact = _compact(text)
    if isinstance(candidates, re.Pattern):
        # Look in the text as written first: joining words can forge a match across them.
        matches = [m.group(0) for m in candidates.finditer(text)]
        if not matches:
            matches = [m.group(0) for m in candidates.finditer(compact)]
        return list(dict.fromkeys(_compact(match) for match in matches))
    positions: list[tuple[int, str]] = []
    for candidate in candidates:
        key = _compact(_comparable(candidate))
        where = compact.find(key) if key else -1
        if where >= 0:
            positions.append((where, candidate))
    return [candidate for _, candidate in sorted(positions)]


def find_reference(description: str, candidates: Collection[str] | re.Pattern[str]) -> str | None:
    """The one reference in ``description``; None when there is none or more than one."""
    found = find_references(description, candidates)
    return found[0] if len(found) == 1 else None
