"""``quantum-trader dashboard``: the monitoring dashboard on a live journal or a finished run folder.

Register in ``cli/main.py`` with ``app.command("dashboard")(dashboard_cmd.dashboard)``.

Read-only unless a control token is configured (``--token-file``, owner-only, or
``$QT_DASHBOARD_TOKEN``); bound to the policy's ``dashboard.host`` (127.0.0.1) unless ``--host`` and
``--allow-public`` say otherwise. The app itself is ``monitor.app``; the journal and the run folder
reach it through ``cli.dashboard_source`` and ``cli.dashboard_run``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.gates_cmd import journal_choice, journal_errors
from quantum_trader.cli.options import load_policy_or_exit

if TYPE_CHECKING:
    from quantum_trader.config import Policy
    from quantum_trader.monitor.source import Controls, DashboardSource


def _journal_source(journal: str | None, catalog: Path | None, policy: Policy) -> DashboardSource:
    from quantum_trader.cli.dashboard_source import JournalSource

    choice = journal_choice(journal)
    target = choice.target
    if "://" not in target and not Path(target).is_file():
        how = "--journal" if journal is not None else "the account's journal (set --journal or $QT_JOURNAL)"
        raise fail(f"journal {target} does not exist ({how}); run a paper or live session with --journal first, "
                   "or pass --run RUN for a finished backtest")
    if catalog is not None and not catalog.is_dir():
        raise fail(f"--catalog {catalog}: no such folder")
    with journal_errors():
        source = JournalSource(target, account=choice.account, policy=policy, catalog=catalog)
        source.version()  # connect and read now: a journal that cannot be read is one line, not a served error
        source.portfolio()
    return source


def _run_source(run: Path, policy: Policy) -> DashboardSource:
    from quantum_trader.cli.dashboard_run import RunFolderSource, check_run_folder

    try:
        folder = check_run_folder(run)
        return RunFolderSource(folder, policy=policy)
    except (ValueError, OSError) as exc:
        raise fail(f"--run {run}: {exc}") from None


def dashboard(
    journal: Annotated[str | None, typer.Option(
        "--journal", help="Journal SQLite file or database URL to watch (default $QT_JOURNAL, else "
                          "journal/<account>.sqlite with the account $QT_ACCOUNT or 'default').")] = None,
    run: Annotated[Path | None, typer.Option(
        "--run", help="A finished run folder (runs/<run-id>) to show instead of a journal (read-only).")] = None,
    catalog: Annotated[Path | None, typer.Option(
        "--catalog", help="Catalog the session read: marks and price charts of the positions (default: the "
                          "last fill's price).")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", help="Address to listen on (default: the policy's dashboard.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", min=1, max=65535, help="Port (default: the policy's dashboard.port, 8050).")] = None,
    allow_public: Annotated[bool, typer.Option(
        "--allow-public", help="Allow a --host that is not a loopback address.")] = False,
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", help="File (mode 0600) holding the control token; else $QT_DASHBOARD_TOKEN; without "
                             "either the dashboard is read-only.")] = None,
    allowed_host: Annotated[list[str] | None, typer.Option(
        "--allowed-host", help="Another Host name the dashboard answers to (a proxy's public name, e.g. "
                               "dash.example.com); repeatable. Requests naming any other host are refused.")] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")] = None,
) -> None:
    """Serve the monitoring dashboard: exposure against the limits, correlation, slots, the kill switch, positions,
    alerts; a JSON API (/docs) and /metrics for Prometheus. Updates live, without reload.

    Example: quantum-trader dashboard --journal journal/default.sqlite --catalog catalog
    """
    from quantum_trader.monitor.security import TokenError, load_token
    from quantum_trader.monitor.server import BindError, check_bind

    if journal is not None and run is not None:
        raise fail("--journal and --run: pass one (a live journal or a finished run folder)")
    policy = load_policy_or_exit(policy_file)
    bind_host = host or policy.dashboard.host
    bind_port = port or policy.dashboard.port
    try:
        check_bind(bind_host, bind_port, allow_public=allow_public)
        token = load_token(token_file, os.environ)
    except (BindError, TokenError) as exc:
        raise fail(str(exc)) from None
    extra = [_host_name(h) for h in allowed_host or []]
    source = _run_source(run, policy) if run is not None else _journal_source(journal, catalog, policy)
    controls = _controls(source) if token is not None else None
    if token is not None and controls is None:
        raise fail("--run: a run folder is read-only; control actions need a journal (drop the token)")
    serve(source, controls, token, bind_host, bind_port, extra)


def _host_name(value: str) -> str:
    """``--allowed-host``: a name or ``name:port`` as a browser sends it in ``Host``."""
    import re

    name = value.strip().lower()
    if not re.fullmatch(r"(\[[0-9a-f:]+\]|[a-z0-9.-]{1,253})(:[0-9]{1,5})?", name):
        raise fail(f"--allowed-host {value!r}: expected a host name or name:port, e.g. dash.example.com")
    return name


def _controls(source: DashboardSource) -> Controls | None:
    from quantum_trader.cli.dashboard_source import JournalControls, JournalSource

    return JournalControls(source) if isinstance(source, JournalSource) else None


def serve(source: DashboardSource, controls: Controls | None, token: str | None, host: str, port: int,
          extra_hosts: list[str]) -> None:
    import uvicorn

    from quantum_trader.monitor.app import Settings, create_app
    from quantum_trader.monitor.security import allowed_hosts

    hosts = frozenset(allowed_hosts(host, port) | set(extra_hosts))
    app = create_app(source, controls, Settings(token=token, allowed_hosts=hosts))
    shown = f"[{host}]" if ":" in host else host
    mode = "controls enabled (token required)" if token is not None else "read-only"
    console.print(f"dashboard on http://{shown}:{port}/ ({mode}); API docs at /docs, metrics at /metrics; "
                  f"{source.description}", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")
