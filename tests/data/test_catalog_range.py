"""A range read a row group and a column at a time returns what pyarrow's filtered read returns.

``data.catalog_range.read_range`` replaces ``pq.read_table(filters=...)`` for the catalog's range reads
(windows of a streamed replay), so that a window holds one column of one row group, not the groups it
touches whole. Every range, inside a group, across groups, open at either end, before or after the data
or empty, must give the same columns, values, dtypes and order, including NaN and nulls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantum_trader.data import catalog_range
from quantum_trader.data.catalog_range import read_range

ROWS = 500


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rows of ascending ``ts`` with gaps and duplicates of nothing, in row groups of 64 rows."""
    rng = np.random.default_rng(3)
    ts = np.cumsum(rng.integers(1, 4, ROWS)) * 60_000
    price = rng.normal(100.0, 1.0, ROWS)
    price[::37] = np.nan
    volume = pa.array(rng.normal(5.0, 1.0, ROWS), mask=np.arange(ROWS) % 41 == 0)
    table = pa.table({"ts": ts, "price": price, "volume": volume, "count": np.arange(ROWS, dtype=np.int64)})
    path = tmp_path_factory.mktemp("range") / "data.parquet"
    pq.write_table(table, path, row_group_size=64)
    assert pq.ParquetFile(path).metadata.num_row_groups > 5
    return path


def _filtered(path: Path, start: int | None, end: int | None) -> dict[str, np.ndarray]:
    filters = [f for f in (("ts", ">=", start) if start is not None else None,
                           ("ts", "<", end) if end is not None else None) if f is not None]
    table = pq.read_table(path, filters=filters or None, partitioning=None)
    return {name: table.column(name).to_numpy() for name in table.column_names}


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(got) == list(expected)
    for name, values in expected.items():
        assert got[name].dtype == values.dtype, name
        np.testing.assert_array_equal(got[name], values, err_msg=name)


@pytest.fixture(params=["column by column", "whole groups"])
def group_reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways a group is read: a column at a time (large groups, order books) or whole (small ones)."""
    monkeypatch.setattr(catalog_range, "WHOLE_GROUP_BYTES", 0 if request.param == "column by column" else 2**30)


@pytest.mark.usefixtures("group_reads")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.one_of(st.none(), st.integers(-60_000, 1_600 * 60_000)),
       length=st.one_of(st.none(), st.integers(0, 900 * 60_000)))
def test_a_range_read_equals_the_filtered_read(stored: Path, start: int | None, length: int | None) -> None:
    end = None if length is None else (0 if start is None else start) + length
    _assert_same(read_range(stored, start, end), _filtered(stored, start, end))


@pytest.mark.usefixtures("group_reads")
def test_ranges_inside_across_and_outside_the_groups(stored: Path) -> None:
    ts = pq.read_table(stored, columns=["ts"]).column("ts").to_numpy()
    for start, end in ((int(ts[10]), int(ts[20])), (int(ts[60]), int(ts[70])), (int(ts[5]), int(ts[300])),
                       (int(ts[-1]) + 1, None), (None, int(ts[0])), (int(ts[30]), int(ts[30]))):
        got = read_range(stored, start, end)
        _assert_same(got, _filtered(stored, start, end))
    assert read_range(stored, int(ts[60]), int(ts[70]))["ts"].size == 10
