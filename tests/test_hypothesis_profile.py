"""CI runs the property tests under the ``ci`` hypothesis profile, and the profile is the one loaded.

``.ci/run`` must still run exactly ``make test`` (the README's command); it selects the
profile through ``QT_HYPOTHESIS_PROFILE``, which tests/conftest.py reads before any test
module is imported, so every ``@settings`` built at import inherits it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import runpy; from hypothesis import settings; runpy.run_path('tests/conftest.py'); "
    "s = settings.default; print(s.max_examples, s.derandomize, s.deadline)"
)


def _profile_under(env_value: str | None, *, ci_machine: bool = False) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_HYPOTHESIS_PROFILE", "CI")}
    if ci_machine:
        env["CI"] = "true"
    if env_value is not None:
        env["QT_HYPOTHESIS_PROFILE"] = env_value
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_ci_run_is_make_test_under_the_ci_profile(tmp_path: Path) -> None:
    """A stand-in ``make`` first on PATH records what ``.ci/run`` asks of it and in which environment (without the
    PostgreSQL server it starts first: tests/journal/test_ci_postgres.py runs that script)."""
    record = tmp_path / "record"
    fake = tmp_path / "make"
    fake.write_text(f'#!/usr/bin/env bash\necho "$PWD|$*|${{QT_HYPOTHESIS_PROFILE:-}}" > {record}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "QT_CI_NO_POSTGRES": "1"}
    env.pop("QT_HYPOTHESIS_PROFILE", None)
    subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env, check=True, capture_output=True)
    assert record.read_text().strip() == f"{ROOT}|test|ci"


def test_the_variable_selects_the_profile() -> None:
    """Unset, the ``local`` profile: hypothesis' own example count and random examples, but no deadline."""
    default = settings.get_profile("default")
    assert _profile_under("ci") == "150 True None"
    assert _profile_under(None) == f"{default.max_examples} {default.derandomize} None"


def test_a_ci_machine_does_not_change_the_local_profile() -> None:
    """With ``CI`` set hypothesis loads a ``ci`` profile of its own; ``local`` must not inherit from it."""
    default = settings.get_profile("default")
    assert _profile_under(None, ci_machine=True) == f"{default.max_examples} {default.derandomize} None"
    assert _profile_under("ci", ci_machine=True) == "150 True None"


def test_this_run_uses_the_profile_it_names() -> None:
    expected = settings.get_profile(os.environ.get("QT_HYPOTHESIS_PROFILE", "local"))
    current = settings.default
    assert (current.max_examples, current.derandomize, current.deadline) == (
        expected.max_examples, expected.derandomize, expected.deadline
    )
