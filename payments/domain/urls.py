"""Where the gateway sends a payer back or a notification to: an absolute https URL on one of
the agency's allowed hosts. One rule for ``return_url``, ``notify_url`` and every delivery.

The allow-list names hosts (``portal.example.vn``) and, where a portal listens on another
port, ``host:port`` (``portal.example.vn:8443``): a URL with an explicit port other than its
scheme's default is allowed only when that pair is listed, or when the list says any port of
that host (``host:*``, meant for development machines, e.g. ``127.0.0.1:*``). Control
characters and spaces are refused outright (a CR LF in a URL stored raw ends up in a
``Location`` header or a log line).
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}


def _unsafe(url: str) -> bool:
    return any(ord(char) < 0x21 or ord(char) == 0x7F for char in url)


def host_key(host: str, port: int | None, scheme: str) -> str:
    """How an allow-list names this host and port: the bare host on the scheme's default
    port, else ``host:port`` (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return host
    return f"{shown}:{port}"


def url_problem(url: str, allowed_hosts: frozenset[str], *, allow_plain_http: bool) -> str | None:
    """Why the gateway may not send anyone or anything to ``url``; None when it may."""
    if _unsafe(url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:  # a malformed bracketed host or a port that is not a number
        return "must be a valid absolute URL"
    if not parts.scheme or not parts.netloc:
        return "must be an absolute URL"
    if parts.scheme not in DEFAULT_PORTS:
        return "must use https"
    if parts.scheme == "http" and not allow_plain_http:
        return "must use https (plain http is accepted only in sandbox mode)"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    key = host_key(host, port, parts.scheme)
    any_port = f"[{host}]:*" if ":" in host else f"{host}:*"
    if key not in allowed_hosts and any_port not in allowed_hosts:
        allowed = ", ".join(sorted(allowed_hosts)) or "none configured"
        return f"host {key!r} is not on the agency's allowed hosts ({allowed})"
    return None
