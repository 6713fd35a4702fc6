"""The faults every provider call is put through, and a word for each kind of answer.

The tests read as tables: for each fault of ``FAULTS`` (the simulators' switches, ``normal``
first), the kind of answer the module gave, compared with what the rules allow.
"""

from __future__ import annotations

from payments.domain.attempts import ProviderOutcome
from payments.providers.interface import Redirect
from payments.providers.outcomes import Rejected, Unknown
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundPending,
    RefundStatus,
    RefundSubmitted,
    RefundSucceeded,
    RefundUnknown,
)
from payments.sandbox.faults import Fault, Faults
from tests.conformance.sandbox import Sandbox

FAULTS = tuple(Fault)  # normal, error, acted_error, garble, slow, hang, lose, wrong

# Faults that leave the caller without the provider's answer, whether or not it acted.
NO_ANSWER = frozenset({Fault.ERROR, Fault.ACTED_ERROR, Fault.GARBLE, Fault.HANG, Fault.LOSE})
# Faults after which the provider has done what was asked.
DONE = frozenset({Fault.NORMAL, Fault.ACTED_ERROR, Fault.SLOW, Fault.HANG, Fault.WRONG})

Answer = Redirect | ProviderOutcome | Rejected | Unknown | RefundStatus


def plan(faults: Faults | None, operation: str | None, fault: Fault) -> None:
    """Queue ``fault`` for the next call of ``operation``; nothing when no call is made."""
    if faults is not None and operation is not None:
        faults.plan(operation, fault)


def provider_calls(sandbox: Sandbox) -> int:
    """Calls the simulators' provider APIs have had, of every operation."""
    return sum(sandbox.vnpay.faults.calls.values()) + sum(sandbox.momo.faults.calls.values())


def kind(answer: Answer) -> str:
    """``redirect``, a result (``succeeded``, ``pending``, ``failed``), ``rejected``,
    ``unknown``, ``not_found`` or ``submitted``."""
    if isinstance(answer, Redirect):
        return "redirect"
    if isinstance(answer, ProviderOutcome):
        return answer.result.value
    if isinstance(answer, Rejected):
        return "rejected"
    if isinstance(answer, Unknown | RefundUnknown):
        return "unknown"
    if isinstance(answer, RefundSucceeded):
        return "succeeded"
    if isinstance(answer, RefundPending):
        return "pending"
    if isinstance(answer, RefundFailed):
        return "failed"
    if isinstance(answer, RefundNotFound):
        return "not_found"
    assert isinstance(answer, RefundSubmitted)
    return "submitted"


def timed_out(answer: Answer) -> bool:
    """The client's own deadline ended the call (``post_json``'s reason)."""
    return isinstance(answer, Unknown | RefundUnknown) and answer.reason == "timeout"
