"""Who may change anything: the control token, and the checks every control request passes.

Read-only is the default: without a token the control routes do not exist. With one (a file only its
owner can read, or ``$QT_DASHBOARD_TOKEN``), every control request must carry it as
``Authorization: Bearer ...``. A browser attaches no such header by itself, so another site cannot make
the operator's browser send one (CSRF); on top of that, a control request must be JSON (a cross-site
form post cannot be), its ``Host`` must be the dashboard's own (a DNS-rebinding page names another), and
an ``Origin`` or ``Sec-Fetch-Site`` the browser adds must say the same origin.
"""

from __future__ import annotations

import hmac
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from urllib.parse import urlsplit

TOKEN_ENV = "QT_DASHBOARD_TOKEN"
MIN_TOKEN_LENGTH = 16


class TokenError(ValueError):
    """A token file or value that cannot be used; the message names it."""


def _checked(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise TokenError(f"{where}: the token must be at least {MIN_TOKEN_LENGTH} characters without spaces "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return token


def load_token(token_file: Path | None, env: Mapping[str, str]) -> str | None:
    """The control token: ``token_file`` (owner-only permissions, 0600 or stricter), else ``$QT_DASHBOARD_TOKEN``,
    else None (read-only)."""
    if token_file is not None:
        try:
            info = token_file.stat()
        except OSError as exc:
            raise TokenError(f"--token-file {token_file}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise TokenError(f"--token-file {token_file}: not a regular file")
        if info.st_mode & 0o077:
            raise TokenError(f"--token-file {token_file}: readable by others (mode {stat.S_IMODE(info.st_mode):o}); "
                             f"chmod 600 {token_file}")
        try:
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"--token-file {token_file}: cannot read it ({exc})") from None
        return _checked(text, f"--token-file {token_file}")
    value = env.get(TOKEN_ENV, "")
    return _checked(value, f"${TOKEN_ENV}") if value.strip() else None


def bearer_matches(header: str | None, token: str) -> bool:
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _host_of(value: str) -> str:
    return value.strip().lower()


def csrf_refusal(method: str, headers: Mapping[str, str], allowed_hosts: Collection[str]) -> str | None:
    """Why a control request looks cross-site (one line), or None."""
    host = _host_of(headers.get("host", ""))
    if "*" not in allowed_hosts and host not in allowed_hosts:
        return f"Host {host or '(none)'!r} is not this dashboard's ({', '.join(sorted(allowed_hosts))})"
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        parts = urlsplit(origin)
        if _host_of(parts.netloc) != host:
            return f"Origin {origin!r} does not match Host {host!r}: cross-site requests are refused"
    elif origin == "null":
        return "Origin null (a sandboxed or file page): cross-site requests are refused"
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site {site!r}: cross-site requests are refused"
    if method == "POST":
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return f"Content-Type {kind or '(none)'!r}: control requests are JSON (form posts are refused)"
    return None


def allowed_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` values a browser sends to this server: the bound address, and localhost for a loopback one."""
    names = {host}
    if host in ("127.0.0.1", "::1", "localhost"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    if host in ("0.0.0.0", "::"):  # bound to every interface: the operator reaches it by name; trust the port
        return {"*"}
    return {f"{n}:{port}" for n in names} | ({n for n in names} if port == 80 else set())
