"""Where the gateway may send a payer or a notification: the allow-list says hosts and ports."""

from __future__ import annotations

import pytest

from payments.domain.errors import InvalidInput
from payments.domain.urls import url_problem
from payments.services.access import clean_hosts

LISTED = frozenset({"portal.example.vn", "api.example.vn:8443", "127.0.0.1:*", "[::1]:9000"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://portal.example.vn/r", True),
        ("https://portal.example.vn:443/r", True),  # the default port is the bare host
        ("https://portal.example.vn:8443/r", False),  # a port the list does not name
        ("https://api.example.vn:8443/n", True),
        ("https://api.example.vn/n", False),  # only its listed port
        ("http://127.0.0.1:5123/n", True),  # any port, said so
        ("http://127.0.0.1/n", True),
        ("http://[::1]:9000/n", True),
        ("http://[::1]:9001/n", False),
        ("https://portal.example.vn/r\r\nSet-Cookie: a=b", False),
        ("https://portal.example.vn/a\tb", False),
        ("https://portal.example.vn:99999/r", False),
        ("https://u:p@portal.example.vn/r", False),
    ],
)
def test_the_allow_list_says_hosts_and_ports(url: str, allowed: bool) -> None:
    assert (url_problem(url, LISTED, allow_plain_http=True) is None) is allowed


def test_allow_list_entries_are_hosts_with_at_most_a_port() -> None:
    assert clean_hosts(["Portal.Example.VN.", "a.vn:443", "b.vn:8443", "::1", "[::1]:*"]) == {
        "portal.example.vn",
        "a.vn",
        "b.vn:8443",
        "::1",
        "[::1]:*",
    }
    for bad in ["https://a.vn", "a.vn/x", "a.vn:0", "a.vn:70000", "a.vn:8443:*", "a b"]:
        with pytest.raises(InvalidInput):
            clean_hosts([bad])
