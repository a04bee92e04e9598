"""One console for every command, sized to the terminal at the moment it prints.

A module-level ``rich.Console()`` measures the terminal once, at import: a command
imported early (or in a test run beside others) then wraps its tables at a stale width.
Text is soft-wrapped: an error message stays one line (the terminal folds it), so it can
be copied and searched whole; tables still fit the width.
"""

from __future__ import annotations

from typing import Any


class _CurrentConsole:
    def __getattr__(self, name: str) -> Any:
        from rich.console import Console  # on first print, not when a command module is imported

        return getattr(Console(soft_wrap=True), name)


console: Any = _CurrentConsole()
