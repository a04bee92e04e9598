"""Shared fixtures. Real exchange data lives in ../shared/data (CI has it, a user's clone may not)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder; tests using it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (present in CI, absent in a user's clone)")
    return SHARED_DATA
