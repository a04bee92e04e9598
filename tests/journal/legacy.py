"""A journal exactly as the releases before migrations wrote it: their two tables, made by ``create_all``.

Copied from the phase store of that time (quantum_trader/journal/store.py before revision 0001),
so that the in-place upgrade is tested on what users actually have, not on what revision 0001
says they have.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text, create_engine, insert

legacy_metadata = MetaData()

legacy_phase_events = Table(
    "phase_events", legacy_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("from_phase", Integer, nullable=True),
    Column("to_phase", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("forced", Boolean, nullable=False, default=False),
    Column("operator", String(128), nullable=False, default=""),
    Column("evidence", Text, nullable=False, default=""),
)

legacy_killswitch_drills = Table(
    "killswitch_drills", legacy_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("phase", Integer, nullable=False),
    Column("positions_before", Integer, nullable=False),
    Column("positions_after", Integer, nullable=False),
    Column("all_closed", Boolean, nullable=False),
    Column("tripped", Boolean, nullable=False),
    Column("trip_reason", Text, nullable=False),
    Column("equity_before", Float, nullable=False),
    Column("equity_after", Float, nullable=False),
    Column("operator", String(128), nullable=False, default=""),
    Column("details", Text, nullable=False, default="{}"),
)


def make_legacy_journal(url: str, ts: int) -> None:
    """Two phase changes and a drill, written the way the old store wrote them (plain engine, ``create_all``)."""
    engine = create_engine(url if "://" in url else f"sqlite:///{url}")
    try:
        legacy_metadata.create_all(engine)
        with engine.begin() as con:
            con.execute(insert(legacy_phase_events).values(ts=ts, kind="promote", from_phase=0, to_phase=1,
                                                           reason="gate passed", forced=False, operator="ana",
                                                           evidence="{}"))
            con.execute(insert(legacy_killswitch_drills).values(
                ts=ts + 1, mode="paper", phase=1, positions_before=2, positions_after=0, all_closed=True,
                tripped=True, trip_reason="portfolio down 6%", equity_before=100_000.0, equity_after=93_500.5,
                operator="ana", details='{"actions": []}'))
            con.execute(insert(legacy_phase_events).values(ts=ts + 1, kind="drill", from_phase=1, to_phase=1,
                                                           reason="kill-switch drill (paper) passed", forced=False,
                                                           operator="ana", evidence='{"drill_id": 1}'))
    finally:
        engine.dispose()
