"""Every text option of every command with hypothesis-generated text: no traceback, exit code 0, 1 or 2,
at most a few lines on an error and nothing left behind (the invariants of tests/cli/battery.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cli.battery import CASES, COMMANDS, kind_of, run_case

pytestmark = pytest.mark.usefixtures("offline")

TEXT_PARAMS = sorted({(c.command, c.param) for c in CASES
                      if kind_of(next(p for p in COMMANDS[c.command].params if p.name == c.param)) == "text"})


@pytest.mark.parametrize(("command", "param"), TEXT_PARAMS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=24))
def test_generated_text(command: str, param: str, text: str) -> None:
    run_case(command, param, text.replace("{", "(").replace("}", ")"))
