"""The history charts keep their points between requests (``cli/dashboard_points.py``): a new bar shows at the next
request, and what the API serves stays what an uncached read of the journal gives (same points, same values, same
sampling), after every bar, over a year, with a row written behind the kept picks too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.monitor.conftest import HOST

from quantum_trader.cli.dashboard_points import PointViews, correlation_frame, risk_point
from quantum_trader.cli.dashboard_source import JournalSource
from quantum_trader.config import Policy, load_policy
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_MINUTE
from quantum_trader.journal import RiskSnapshot, TradingJournal
from quantum_trader.journal.dashboard_io import DashboardReader
from quantum_trader.monitor.app import Settings, create_app
from quantum_trader.monitor.views import CorrelationHistory, RiskHistory

T0 = 1_735_689_600_000
M = MS_PER_MINUTE
MATRIX = ((1.0, 0.4), (0.4, 1.0))
POLICY: Policy = load_policy(None)


def _row(ts: int, i: int) -> RiskSnapshot:
    matrix = i % 5 == 0
    return RiskSnapshot(ts, Decimal(100_000 + 7 * i) / 3, 0.01 * (i % 13), i % 4, correlated_exposure=0.001 * i,
                        daily_loss=0.0001 * (i % 17), drawdown=None if i % 11 == 0 else 0.0002 * i,
                        symbols=("A", "B") if matrix else (), correlation=MATRIX if matrix else None,
                        mean_correlation=0.4 if matrix else None)


def _uncached(journal: TradingJournal, since: int | None, points: int) -> RiskHistory:
    """What the endpoint served before any cache: a fresh sampling, every point built from its row."""
    rows = DashboardReader(journal.db, "default").sampled(since, None, points)
    return RiskHistory(points=[risk_point(s) for s in rows])


def _uncached_frames(journal: TradingJournal, frames: int) -> CorrelationHistory:
    rows = DashboardReader(journal.db, "default").sampled(None, None, frames, correlation=True)
    return CorrelationHistory(frames=[correlation_frame(s) for s in rows])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.integers(1, 5_000), min_size=3, max_size=150), points=st.integers(2, 600),
       new=st.lists(st.integers(1, 120), min_size=1, max_size=6), since_row=st.integers(0, 149),
       behind=st.booleans())
def test_the_cached_history_is_what_an_uncached_read_gives_after_every_bar(
        tmp_path_factory: object, gaps: list[int], points: int, new: list[int], since_row: int, behind: bool) -> None:
    """Up to a year of bars (gaps of up to 3.5 days), then new bars one at a time: each request after a bar serves
    what a fresh read serves, over the whole range, the last day and from a row on, and ends with the new bar."""
    path = tmp_path_factory.mktemp("j") / "j.sqlite"  # type: ignore[attr-defined]
    journal = TradingJournal(path, session="s")
    times = [T0 + sum(gaps[:k + 1]) * M for k in range(len(gaps))]
    journal.record_bars([_row(ts, i) for i, ts in enumerate(times)], [])
    source = JournalSource(str(path), account="default", policy=POLICY)
    client = TestClient(create_app(source, None, Settings(allowed_hosts=frozenset({HOST}))), base_url=f"http://{HOST}")
    ranges = (None, times[min(since_row, len(times) - 1)])
    for since in ranges:  # the points are built and kept
        assert source.risk_history(since, None, points) == _uncached(journal, since, points)
    if behind:  # another session journals a bar in the middle of the range: the kept picks are read again
        TradingJournal(journal.db, session="other").record_risk(_row(times[len(times) // 2] - 1, 10_000))
    ts = times[-1]
    for k, gap in enumerate(new):
        ts += gap * M
        journal.record_risk(_row(ts, len(times) + k))
        for since in (*ranges, ts - MS_PER_DAY):
            served = client.get("/api/history", params={"points": points} | ({} if since is None else {"since": since}))
            expected = _uncached(journal, since, points)
            assert served.status_code == 200 and served.json() == expected.model_dump(mode="json")
            assert source.risk_history(since, None, points) == expected
            assert expected.points[-1].ts == ts  # the new bar is the chart's last point
        frames = min(points, 500)
        assert source.correlation_history(frames) == _uncached_frames(journal, frames)
    source.close()
    journal.close()


def test_a_new_bar_builds_only_its_own_points(tmp_path: Path) -> None:
    """The year's chart after a bar reuses the points of the rows it showed before: a new bar builds the few
    points of the rows the sampling picks anew, not the chart."""
    journal = TradingJournal(tmp_path / "j.sqlite", session="s")
    journal.record_bars([_row(T0 + i * 30 * M, i) for i in range(17_520)], [])  # a year of 30m bars
    source = JournalSource(str(tmp_path / "j.sqlite"), account="default", policy=POLICY)
    first = source.risk_history(None, None, 600)
    built = source.history_points.built
    assert built == len(first.points) > 240
    ts = T0 + 17_520 * 30 * M
    journal.record_risk(_row(ts, 17_520))
    again = source.risk_history(None, None, 600)
    assert again.points[-1].ts == ts and again == _uncached(journal, None, 600)
    assert source.history_points.built - built <= 3
    shown = {p.ts: p for p in first.points}
    assert sum(p is shown.get(p.ts) for p in again.points) >= len(again.points) - 3
    source.close()
    journal.close()


def test_ranges_beyond_the_kept_ones_are_built_again() -> None:
    views = PointViews(risk_point, kept=2)
    rows = [RiskSnapshot(T0 + i * M, Decimal(i), 0.0, 0, id=i + 1) for i in range(4)]
    views.views("a", rows)
    views.views("b", rows[:2])
    assert views.built == 6
    views.views("a", rows)  # still kept
    views.views("c", rows[2:])  # "b" is the least recently asked: dropped
    views.views("b", rows[:2])
    assert views.built == 6 + 2 + 2
