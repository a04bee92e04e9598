"""Serving the app: loopback by default, a public address only when asked for.

The dashboard shows an account's risk and, with a token, can trip its kill switch: it is bound to
``127.0.0.1`` (the policy's ``dashboard.host``) unless the operator passes ``--allow-public``; put it
behind a proxy with TLS before exposing it.
"""

from __future__ import annotations

import ipaddress
import socket


class BindError(ValueError):
    """A host the dashboard refuses to bind to; the message says why and what to pass."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, *, allow_public: bool) -> None:
    """Refuse a non-loopback host without ``allow_public``, and a port already taken (one line each)."""
    if not is_loopback(host) and not allow_public:
        raise BindError(f"--host {host}: not a loopback address; the dashboard would be reachable from other "
                        "machines (pass --allow-public to mean it, behind a proxy with TLS)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise BindError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
