"""What a wallet simulator (VNPay, MoMo) keeps: its orders by their id, the refunds its book
paid, and the faults queued for the gateway's next calls to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from starlette.requests import Request

from payments.sandbox.faults import Faults
from payments.sandbox.refunds import RefundBook

Order = TypeVar("Order")
S = TypeVar("S", bound="WalletSimulator[Any]")


@dataclass(kw_only=True)
class WalletSimulator(Generic[Order]):
    operations: ClassVar[tuple[str, ...]]  # the server-to-server calls faults can hit
    state_name: ClassVar[str]  # where the app keeps it (``app.state.<name>``)
    orders: dict[str, Order] = field(default_factory=dict)
    refunds: RefundBook = field(default_factory=RefundBook)
    faults: Faults = field(init=False)

    def __post_init__(self) -> None:
        self.faults = Faults(self.operations)

    @classmethod
    def of(cls: type[S], request: Request) -> S:
        """The app's simulator of this kind."""
        found = getattr(request.app.state, cls.state_name)
        if not isinstance(found, cls):
            raise TypeError(f"app.state.{cls.state_name} is not a {cls.__name__}")
        return found
