"""The dashboard's sampled history (``journal/sampled_history.py``): at most the points asked for, the range's first
and last rows among them, evenly spread; the picks kept between calls give what a fresh read gives after every
new bar, a new bar costs a few seeks, and a row written behind the kept picks is seen (they are read again)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.journal.dashboard_io import DashboardReader
from quantum_trader.journal.records import RiskSnapshot
from quantum_trader.journal.sampled_history import SampleCache, grid_step
from quantum_trader.journal.trading import TradingJournal

T0 = 1_735_689_600_000
M = 60_000
MATRIX = ((1.0, 0.5), (0.5, 1.0))


def _row(ts: int, i: int, *, matrix: bool = False) -> RiskSnapshot:
    return RiskSnapshot(ts, Decimal(100_000 + i), 0.01 * (i % 7), i % 3, symbols=("A", "B") if matrix else (),
                        correlation=MATRIX if matrix else None, mean_correlation=0.5 if matrix else None)


def _fresh(journal: TradingJournal, since: int | None, points: int, correlation: bool) -> list[RiskSnapshot]:
    with journal.db.read() as con:
        return SampleCache("default").sample(con, since, None, points, correlation=correlation)


@settings(max_examples=15, deadline=None)
@given(gaps=st.lists(st.integers(1, 90), min_size=3, max_size=120), points=st.integers(2, 40),
       every=st.integers(1, 6), since_row=st.integers(0, 5))
def test_kept_picks_give_what_a_fresh_read_gives_after_every_bar(tmp_path_factory: object, gaps: list[int],
                                                                   points: int, every: int, since_row: int) -> None:
    path = tmp_path_factory.mktemp("j") / "j.sqlite"  # type: ignore[attr-defined]
    journal = TradingJournal(path, session="s")
    reader = DashboardReader(journal.db, "default")
    ts = T0
    times = []
    for i, gap in enumerate(gaps):
        ts += gap * M
        times.append(ts)
        journal.record_risk(_row(ts, i, matrix=i % every == 0))
        since = times[min(since_row, len(times) - 1)]
        for correlation in (False, True):
            for start in (None, since):
                kept = reader.sampled(start, None, points, correlation=correlation)
                assert kept == _fresh(journal, start, points, correlation)
                assert len(kept) <= points
                everyone = journal.risk_snapshots(since=start, correlation_only=correlation)
                if everyone:
                    assert kept[0].id == everyone[0].id and kept[-1].id == everyone[-1].id
                    assert [k.ts for k in kept] == sorted(k.ts for k in kept)
    journal.close()


def test_a_new_bar_costs_a_few_seeks_and_a_row_behind_the_picks_is_seen(tmp_path: Path) -> None:
    journal = TradingJournal(tmp_path / "j.sqlite", session="s")
    journal.record_bars([_row(T0 + i * M, i) for i in range(3_000)], [])
    reader = DashboardReader(journal.db, "default")
    first = reader.sampled(None, None, 100)
    assert 40 <= len(first) <= 100 and reader.samples.seeks > 40
    before = reader.samples.seeks
    journal.record_risk(_row(T0 + 3_000 * M, 3_000))
    again = reader.sampled(None, None, 100)
    assert reader.samples.seeks - before <= 2 and again[-1].ts == T0 + 3_000 * M
    assert again == _fresh(journal, None, 100, False)
    # another session journals a bar in the middle of the range: the kept picks are read again
    TradingJournal(journal.db, session="other").record_risk(_row(T0 + 1_500 * M + 30_000, 9_999))
    before = reader.samples.seeks
    moved = reader.sampled(None, None, 100)
    assert moved == _fresh(journal, None, 100, False) and reader.samples.seeks - before > 40
    journal.close()


def test_the_grid_step_keeps_within_the_points() -> None:
    for span in (M, 59 * M, 1_440 * M, 525_600 * M, 10 * 525_600 * M):
        for inside in (1, 7, 598, 4_998):
            step = grid_step(span, inside)
            assert span // step + 1 <= max(inside, 2) and step % M == 0
            for start in range(0, step, max(1, step // 7)):  # wherever the range starts on the grid
                g0 = (start // step + 1) * step
                assert len(range(g0, start + span, step)) <= max(inside, 2)
