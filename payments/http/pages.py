"""The body of every list answer: the page's data, whether more follow, and the cursor to them."""

from __future__ import annotations

from typing import Any

from payments.http.requests import encode_cursor


def page_body(data: list[Any], has_more: bool, last_id: str | None) -> dict[str, Any]:
    """``last_id`` is the id of the page's last row, the cursor's position when more follow."""
    cursor = encode_cursor(last_id) if has_more and last_id is not None else None
    return {"data": data, "has_more": has_more, "next_cursor": cursor}
