"""The process the live crash test kills: one live session against the fake exchange, until its last bar.

``python -m tests.venues.ccxt.live_child URL JOURNAL ROWS``: the session of ``test_live_resume._request``
(three symbols, 1h bars, marks and books off) against the fake Binance USD-M exchange at ``URL``, journalled
in ``JOURNAL``, ending after ``ROWS`` bars. ``QT_CRASH_AT`` arms its crash points as for any process.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

from tests.venues.ccxt.test_live_resume import SYMBOLS, request_for

from quantum_trader.analytics.live import open_live
from quantum_trader.journal import TradingJournal


async def _main(url: str, journal: str, rows: int) -> None:
    request = request_for(SYMBOLS, TradingJournal(journal, session="live-child"), rows)
    session = await open_live(replace(request, api_url=url))
    await session.run()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
