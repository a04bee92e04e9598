"""The client order id an exchange receives: the kernel's own, or a deterministic stand-in where it cannot fit.

The kernel's ids (``domain.trading.client_order_id``) are derived from the decision, never random, so a
decision resent after a crash carries the id the exchange already holds. Binance takes up to 36 of
``[.A-Z:/a-z0-9_-]`` and Bybit up to 36 of ``[A-Za-z0-9_-]``: the kernel's 32 characters of
``[0-9a-z-]`` fit both and are sent as they are. An id that does not fit (a longer run name, another
venue) is replaced by a hash of itself, the same every time, so the mapping never depends on what was
sent before.
"""

from __future__ import annotations

import hashlib
import re

from quantum_trader.venues.ccxt.connect import VenueInfo


def exchange_client_id(venue: VenueInfo, client_order_id: str) -> str:
    """``client_order_id`` if ``venue`` accepts it, else ``qt-`` and a hash of it that does."""
    if re.fullmatch(f"{venue.client_id_pattern}{{1,{venue.client_id_length}}}", client_order_id):
        return client_order_id
    digest = hashlib.blake2b(client_order_id.encode(), digest_size=16).hexdigest()
    return f"qt-{digest}"[: venue.client_id_length]
