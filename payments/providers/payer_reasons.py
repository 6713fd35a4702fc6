"""Why a try did not go through, in words a payer reads (Vietnamese and English).

Each provider keeps its own table beside its result codes (``vnpay.protocol``,
``momo.protocol``) and looks a stored code up with ``payer_reason``. A code not in the table
has no reason: the page then says only that the payment did not go through.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PayerReason:
    vi: str
    en: str
    # The payer stopped the try (cancelled, declined in the app, let the page lapse): nothing
    # went wrong, and the page says so rather than "failed".
    stopped_by_payer: bool = False

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi
