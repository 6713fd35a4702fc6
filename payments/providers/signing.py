"""HMAC signatures as the providers compute them, compared in constant time.

Every provider signs with a shared secret and sends the digest as hex. Comparisons go through
``hmac.compare_digest`` so that the time taken does not tell an attacker how many leading
characters of a forged signature were right.
"""

from __future__ import annotations

import hashlib
import hmac


def hmac_sha512_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def hmac_sha256_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def hmac_sha256_hex_bytes(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(expected_hex: str, received: object) -> bool:
    """True when ``received`` is the lowercase or uppercase spelling of ``expected_hex``.

    Some provider SDKs print hex in upper case, so case is folded. Anything that is not an ASCII
    string (a number, a list, non-ASCII text) is simply a wrong signature: ``compare_digest``
    refuses non-ASCII ``str`` with a TypeError, which must not reach a caller as a crash.
    """
    if not isinstance(received, str) or not received.isascii():
        return False
    return hmac.compare_digest(expected_hex.lower(), received.lower())
