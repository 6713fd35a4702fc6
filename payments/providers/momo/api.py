"""MoMo v2 API calls: create, query and refund over an injected ``httpx.AsyncClient``.

MoMo does not sign these answers, so an answer is checked by what it echoes: our partner code,
order id and request id. Anything else is ``Rejected``; a call we got no usable answer to is
``Unknown``, and so is a query MoMo declined (``query_refused``). Neither may change a payment's
state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from payments.domain.errors import FieldProblem, InvalidInput
from payments.providers.momo.protocol import (
    QUERY_SIGNED,
    REFUND_SIGNED,
    MomoConfig,
    MomoStatus,
    classify_result,
    create_body,
    integer_field,
    sign,
)
from payments.providers.outcomes import Rejected, Rejection, Unknown, post_json

CREATE_PATH = "/v2/gateway/api/create"
QUERY_PATH = "/v2/gateway/api/query"
REFUND_PATH = "/v2/gateway/api/refund"
TIMEOUT_SECONDS = 30  # MoMo asks for at least 30 s
# MoMo numbers its system and request errors below 1000 (10 maintenance, 11 access denied, 12
# unsupported version, 13 merchant authentication failed, 40 duplicate requestId, 99 unknown
# error...) and an order's statuses 0, 9000 and in the 1000s. A query answered with such an
# error was refused, which says nothing of the order; 42 (no such order) is about the order.
NO_SUCH_ORDER = 42


def query_refused(result_code: int) -> bool:
    """The query's answer is MoMo declining our request, not the state of the order."""
    return 0 < result_code < 1000 and result_code != NO_SUCH_ORDER


def query_body(
    config: MomoConfig, *, request_id: str, order_id: str, lang: str = "vi"
) -> dict[str, object]:
    body: dict[str, object] = {
        "partnerCode": config.partner_code,
        "requestId": request_id,
        "orderId": order_id,
        "lang": lang,
    }
    return {**body, "signature": sign(config, body, QUERY_SIGNED)}


def refund_body(
    config: MomoConfig,
    *,
    request_id: str,
    refund_order_id: str,
    amount: int,
    trans_id: int,
    description: str = "",
    lang: str = "vi",
) -> dict[str, object]:
    """``refund_order_id`` is a new id for the refund, not the paid order's id."""
    if type(amount) is not int or amount <= 0:
        raise InvalidInput([FieldProblem("amount", "must be a positive whole number of VND")])
    body: dict[str, object] = {
        "partnerCode": config.partner_code,
        "orderId": refund_order_id,
        "requestId": request_id,
        "amount": amount,
        "transId": trans_id,
        "lang": lang,
        "description": description,
    }
    return {**body, "signature": sign(config, body, REFUND_SIGNED)}


@dataclass(frozen=True)
class CreateAnswer:
    result_code: int
    message: str
    pay_url: str  # empty unless result_code is 0

    @property
    def accepted(self) -> bool:
        return self.result_code == 0 and self.pay_url != ""


@dataclass(frozen=True)
class RefundTrans:
    """One refund of the queried order, as ``query`` lists it in ``refundTrans``."""

    order_id: str  # the refund's own order id (ours: the refund's request id)
    amount: int | None  # VND
    result_code: int
    trans_id: int | None


@dataclass(frozen=True)
class QueryAnswer:
    result_code: int
    message: str
    amount: int | None  # VND
    trans_id: int | None
    pay_type: str
    refunds: tuple[RefundTrans, ...] = ()

    @property
    def status(self) -> MomoStatus:
        return classify_result(self.result_code)


@dataclass(frozen=True)
class RefundAnswer:
    result_code: int
    message: str
    amount: int | None  # VND
    trans_id: int | None

    @property
    def accepted(self) -> bool:
        return self.result_code == 0


def _echo_problem(
    config: MomoConfig, answer: Mapping[str, object], *, order_id: str, request_id: str
) -> Rejected | int:
    """The answer's result code, or why the answer is not about our request.

    The answer is unsigned: only what it echoes ties it to our request. An error answer (a
    request MoMo declined, codes 1-999) may leave the echo out; an answer that says anything
    about the order or the refund (0, and the statuses from 1000 up) must echo all three."""
    result_code = integer_field(answer.get("resultCode"))
    if result_code is None:
        return Rejected(Rejection.MALFORMED, "resultCode is missing or not a number")
    declined = query_refused(result_code) or result_code == NO_SUCH_ORDER
    echoes = (
        ("partnerCode", config.partner_code, Rejection.WRONG_MERCHANT, "partnerCode is not ours"),
        ("orderId", order_id, Rejection.MISMATCH, "answer is about another order"),
        ("requestId", request_id, Rejection.MISMATCH, "answer is for another request"),
    )
    for name, ours, rejection, why in echoes:
        if name not in answer and declined:
            continue
        if answer.get(name) != ours:
            return Rejected(rejection, why if name in answer else f"answer does not echo {name}")
    return result_code


def _optional_int(value: object) -> int | None:
    return integer_field(value) if value is not None else None


def _message(answer: Mapping[str, object]) -> str:
    message = answer.get("message", "")
    return message if isinstance(message, str) else ""


def parse_create_answer(
    config: MomoConfig, answer: Mapping[str, object], *, order_id: str, request_id: str
) -> CreateAnswer | Rejected:
    checked = _echo_problem(config, answer, order_id=order_id, request_id=request_id)
    if isinstance(checked, Rejected):
        return checked
    pay_url = answer.get("payUrl", "")
    # https only, unless the API itself is plain http: the local sandbox simulator.
    schemes = ("https://", "http://") if config.api_url.startswith("http://") else ("https://",)
    if not isinstance(pay_url, str) or (checked == 0 and not pay_url.startswith(schemes)):
        return Rejected(Rejection.MALFORMED, "payUrl is missing or not an https URL")
    return CreateAnswer(result_code=checked, message=_message(answer), pay_url=pay_url)


def parse_query_answer(
    config: MomoConfig, answer: Mapping[str, object], *, order_id: str, request_id: str
) -> QueryAnswer | Rejected:
    checked = _echo_problem(config, answer, order_id=order_id, request_id=request_id)
    if isinstance(checked, Rejected):
        return checked
    pay_type = answer.get("payType", "")
    refunds = _refund_trans(answer.get("refundTrans"))
    if refunds is None:
        return Rejected(Rejection.MALFORMED, "refundTrans is not a list of refunds")
    return QueryAnswer(
        result_code=checked,
        message=_message(answer),
        amount=_optional_int(answer.get("amount")),
        trans_id=_optional_int(answer.get("transId")),
        pay_type=pay_type if isinstance(pay_type, str) else "",
        refunds=refunds,
    )


def _refund_trans(value: object) -> tuple[RefundTrans, ...] | None:
    """The listed refunds, or None when the list is not what MoMo documents (we would rather
    not settle a refund from a half-understood answer)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        return None
    found = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("orderId"), str):
            return None
        result_code = integer_field(item.get("resultCode"))
        if result_code is None:
            return None
        found.append(
            RefundTrans(
                order_id=item["orderId"],
                amount=_optional_int(item.get("amount")),
                result_code=result_code,
                trans_id=_optional_int(item.get("transId")),
            )
        )
    return tuple(found)


def parse_refund_answer(
    config: MomoConfig, answer: Mapping[str, object], *, order_id: str, request_id: str
) -> RefundAnswer | Rejected:
    checked = _echo_problem(config, answer, order_id=order_id, request_id=request_id)
    if isinstance(checked, Rejected):
        return checked
    return RefundAnswer(
        result_code=checked,
        message=_message(answer),
        amount=_optional_int(answer.get("amount")),
        trans_id=_optional_int(answer.get("transId")),
    )


class MomoClient:
    """create, query and refund; never raises httpx errors."""

    def __init__(
        self, config: MomoConfig, http: httpx.AsyncClient, *, timeout_seconds: int = TIMEOUT_SECONDS
    ) -> None:
        self._config = config
        self._http = http
        self._timeout_seconds = timeout_seconds

    async def _post(self, path: str, body: Mapping[str, object]) -> dict[str, object] | Unknown:
        url = self._config.api_url.rstrip("/") + path
        return await post_json(self._http, url, body, timeout_seconds=self._timeout_seconds)

    async def create(
        self,
        *,
        request_id: str,
        order_id: str,
        amount: int,
        order_info: str,
        redirect_url: str,
        ipn_url: str,
        request_type: str = "captureWallet",
        lang: str = "vi",
    ) -> CreateAnswer | Rejected | Unknown:
        body = create_body(
            self._config,
            request_id=request_id,
            order_id=order_id,
            amount=amount,
            order_info=order_info,
            redirect_url=redirect_url,
            ipn_url=ipn_url,
            request_type=request_type,
            lang=lang,
        )
        answer = await self._post(CREATE_PATH, body)
        if isinstance(answer, Unknown):
            return answer
        return parse_create_answer(self._config, answer, order_id=order_id, request_id=request_id)

    async def query(
        self, *, request_id: str, order_id: str, lang: str = "vi"
    ) -> QueryAnswer | Rejected | Unknown:
        body = query_body(self._config, request_id=request_id, order_id=order_id, lang=lang)
        answer = await self._post(QUERY_PATH, body)
        if isinstance(answer, Unknown):
            return answer
        parsed = parse_query_answer(self._config, answer, order_id=order_id, request_id=request_id)
        if isinstance(parsed, QueryAnswer) and query_refused(parsed.result_code):
            # Read as an order status it would fail a paid order, or find none of its refunds.
            return Unknown(f"query refused with resultCode {parsed.result_code}: {parsed.message}")
        return parsed

    async def refund(
        self,
        *,
        request_id: str,
        refund_order_id: str,
        amount: int,
        trans_id: int,
        description: str = "",
        lang: str = "vi",
    ) -> RefundAnswer | Rejected | Unknown:
        body = refund_body(
            self._config,
            request_id=request_id,
            refund_order_id=refund_order_id,
            amount=amount,
            trans_id=trans_id,
            description=description,
            lang=lang,
        )
        answer = await self._post(REFUND_PATH, body)
        if isinstance(answer, Unknown):
            return answer
        return parse_refund_answer(
            self._config, answer, order_id=refund_order_id, request_id=request_id
        )
