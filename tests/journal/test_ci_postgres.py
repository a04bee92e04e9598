"""`.ci/postgres`, the throwaway PostgreSQL server CI starts for the journal's tests: it starts, the journal
works on the URL it exports, and `qt_postgres_stop` stops it and removes its data.

Run for real where the PostgreSQL binaries are installed; installing them (apt-get) is the script's
job in CI, never a test's, so without them this skips.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
set -e
source .ci/postgres >/dev/null
echo "URL=$QT_TEST_POSTGRES_URL"
echo "DATA=$QT_TEST_POSTGRES_DATA"
"$PYTHON" - <<'PY'
import os
from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind
journal = Journal(os.environ["QT_TEST_POSTGRES_URL"])
journal.record_phase_change(PhaseChange(1_735_689_600_000, PhaseEventKind.INIT, None, 0, "ci", False, "ci"))
print("PHASE", journal.current_phase(3))
journal.close()
PY
qt_postgres_stop
echo "AFTER=${QT_TEST_POSTGRES_URL:-unset}"
"""


def _installed() -> bool:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb")
    if not found:
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


@pytest.mark.skipif(not _installed(), reason="PostgreSQL's binaries are not installed (.ci/postgres installs them "
                                             "in CI; a test does not)")
def test_the_ci_script_starts_a_server_the_journal_uses_and_stops_it() -> None:
    import sys

    done = subprocess.run(["bash", "-c", PROBE], cwd=ROOT, env={**os.environ, "PYTHON": sys.executable},
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert lines["URL"].startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert "PHASE 0" in done.stdout and lines["AFTER"] == "unset"
    assert not Path(lines["DATA"]).exists()
