"""Every command, every option, chosen bad values: no traceback, a short error, exit code 2, nothing left behind.

The commands are found by walking the Click tree (tests/cli/battery.py), so a new command or
option is covered without touching this file; test_bad_arguments_text.py adds generated text.
"""

from __future__ import annotations

import pytest
from tests.cli.battery import BASELINE, CASES, COMMANDS, Case, run_case

pytestmark = pytest.mark.usefixtures("offline")


def test_every_command_is_covered_with_a_baseline() -> None:
    assert set(BASELINE) == set(COMMANDS), "add a cheap valid invocation of the new command to BASELINE"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_baseline_itself_is_handled(command: str) -> None:
    code, output, args = run_case(command, None, "")
    assert code in (0, 1, 2), f"{args}\n{output}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_values(case: Case) -> None:
    code, output, args = run_case(case.command, case.param, case.value)
    if case.must_fail:
        assert code == 2, f"{args} was accepted:\n{output}"
