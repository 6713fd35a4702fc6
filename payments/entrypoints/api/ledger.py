"""/v1/ledger: accounts with balances (as of any time) and the trial balance.

Treasury staff and administrators read the whole ledger (as they reconcile the whole
gateway). A finance officer's key reads its own agency's accounts only (its budget payable,
``chart.agency_prefix``); every other account, another agency's or the gateway's own,
answers 404 exactly like a missing one, and lists and the trial balance leave them out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.domain.access import Caller, Role
from payments.domain.resources import iso
from payments.entrypoints.api.operations import Operation, api_route
from payments.http.requests import aware, caller, container, query_model
from payments.ledger import chart
from payments.ledger.entries import AccountType
from payments.ledger.ports import AccountTotals
from payments.ledger.queries import account_balance, list_accounts, trial_balance

LEDGER_READERS = (Role.TREASURY, Role.FINANCE, Role.ADMIN)
GATEWAY_WIDE = frozenset({Role.TREASURY, Role.ADMIN})


def scope_of(who: Caller) -> str | None:
    """The code prefix the caller's key is confined to (None: the whole ledger)."""
    return None if who.role in GATEWAY_WIDE else chart.agency_prefix(who.agency_code)


class AsOfQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: datetime | None = Field(
        default=None, description="RFC 3339 time with offset; balances as of then (default now)."
    )


class AccountQuery(AsOfQuery):
    type: Literal["asset", "liability", "revenue", "expense"] | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    code_prefix: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class AccountOut(BaseModel):
    code: str
    name: str
    type: Literal["asset", "liability", "revenue", "expense"]
    currency: str
    debits: int
    credits: int
    balance: int = Field(description="On the account's normal side (debit for assets).")


class AccountPageOut(BaseModel):
    data: list[AccountOut]
    has_more: bool
    next_cursor: str | None
    as_of: datetime | None


class AccountBalanceOut(AccountOut):
    as_of: datetime | None


class CurrencyTotalsOut(BaseModel):
    currency: str
    debits: int
    credits: int
    balanced: bool | None = Field(description="Null in an agency's trial balance.")


class TrialBalanceOut(BaseModel):
    as_of: datetime | None
    agency: str | None = Field(
        description="Null: the whole ledger. An agency's code: its own accounts only, one "
        "side of their entries, whose totals need not balance (balanced is null)."
    )
    balanced: bool | None
    accounts: list[AccountOut]
    totals: list[CurrencyTotalsOut]


def _account(totals: AccountTotals) -> dict[str, Any]:
    account = totals.account
    return {
        "code": account.code,
        "name": account.name,
        "type": account.type.value,
        "currency": account.currency,
        "debits": totals.debits,
        "credits": totals.credits,
        "balance": totals.balance,
    }


def _when(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


async def get_accounts(request: Request) -> Response:
    who = await caller(request, *LEDGER_READERS)
    query = query_model(request, AccountQuery)
    as_of = aware(query.as_of, "as_of")
    page = await list_accounts(
        container(request).uow_factory,
        type=AccountType(query.type) if query.type else None,
        currency=query.currency,
        code_prefix=query.code_prefix,
        after=query.cursor,
        limit=query.limit,
        as_of=as_of,
        scope=scope_of(who),
    )
    return JSONResponse(
        {
            "data": [_account(t) for t in page.items],
            "has_more": page.next_cursor is not None,
            "next_cursor": page.next_cursor,
            "as_of": _when(as_of),
        }
    )


async def get_account(request: Request) -> Response:
    who = await caller(request, *LEDGER_READERS)
    as_of = aware(query_model(request, AsOfQuery).as_of, "as_of")
    totals = await account_balance(
        container(request).uow_factory,
        request.path_params["code"],
        as_of=as_of,
        scope=scope_of(who),
    )
    return JSONResponse({**_account(totals), "as_of": _when(as_of)})


async def get_trial_balance(request: Request) -> Response:
    who = await caller(request, *LEDGER_READERS)
    as_of = aware(query_model(request, AsOfQuery).as_of, "as_of")
    scope = scope_of(who)
    report = await trial_balance(container(request).uow_factory, as_of=as_of, scope=scope)
    whole = scope is None
    return JSONResponse(
        {
            "as_of": _when(as_of),
            "agency": None if whole else who.agency_code,
            "balanced": report.balanced if whole else None,
            "accounts": [_account(row) for row in report.rows],
            "totals": [
                {
                    "currency": t.currency,
                    "debits": t.debits,
                    "credits": t.credits,
                    "balanced": t.balanced if whole else None,
                }
                for t in report.totals
            ],
        }
    )


_ROLES = tuple(r.value for r in LEDGER_READERS)

routes = [
    api_route(
        Operation(
            "get",
            "/v1/ledger/accounts",
            "Ledger accounts with balances (a finance key: its agency's own)",
            "ledger",
            _ROLES,
            response=AccountPageOut,
            query=AccountQuery,
            errors=(400, 401, 403),
        ),
        get_accounts,
    ),
    # Account codes contain colons ("clearing:vnpay"), so the path converter takes them whole.
    api_route(
        Operation(
            "get",
            "/v1/ledger/accounts/{code}",
            "One account's balance as of a time (another agency's: 404)",
            "ledger",
            _ROLES,
            response=AccountBalanceOut,
            query=AsOfQuery,
            errors=(400, 401, 403, 404),
        ),
        get_account,
        path="/v1/ledger/accounts/{code:path}",
    ),
    api_route(
        Operation(
            "get",
            "/v1/ledger/trial-balance",
            "Trial balance as of a time (a finance key: its agency's accounts)",
            "ledger",
            _ROLES,
            response=TrialBalanceOut,
            query=AsOfQuery,
            errors=(400, 401, 403),
        ),
        get_trial_balance,
    ),
]
