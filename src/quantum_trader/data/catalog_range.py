"""A time range of a stored dataset read without decoding more than one column of one row group at a time.

The catalog's files hold row groups of 131,072 rows (``catalog_write.ROW_GROUP_ROWS``): three months of 1m
bars, but fifteen months of 5m order-book snapshots of 41 columns. A replay reads a window of them at a time,
and a memory that follows the window must not hold the group the window lies in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

WHOLE_GROUP_BYTES = 16 * 2**20
"""A row group up to this size (decoded) is read in one call: a group of 1m bars (7 columns, 7 MB) costs less
memory than a window's result, and one call per column costs more time. Larger groups (order books) are
read a column at a time."""


def read_range(path: Path, start_ms: int | None, end_ms: int | None) -> dict[str, npt.NDArray[Any]]:
    """The columns of the rows with ``start_ms <= ts < end_ms``, in file order, a row group and a column at a time.

    ``pq.read_table`` with filters decodes every row group the range touches, all columns at once, before it
    filters: a month of order books (row groups of 131,072 snapshots, 41 columns: 43 MB each) held a whole
    group, two when the month straddled them. Here one column chunk is decoded at a time (the whole group when it
    is small, ``WHOLE_GROUP_BYTES``) and only the rows in the range are kept, so a read holds its result and one
    column of one group (the same values, tested)."""
    file = pq.ParquetFile(path)
    meta = file.metadata
    names = file.schema_arrow.names
    ts_at = meta.schema.names.index("ts")
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in names}
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(ts_at).statistics
        if stats is not None and stats.has_min_max and ((start_ms is not None and stats.max < start_ms)
                                                        or (end_ms is not None and stats.min >= end_ms)):
            continue
        ts = file.read_row_group(group, columns=["ts"]).column(0).to_numpy()
        keep = np.ones(ts.size, dtype=bool)
        if start_ms is not None:
            keep &= ts >= start_ms
        if end_ms is not None:
            keep &= ts < end_ms
        if not keep.any():
            continue
        whole = bool(keep.all())
        table = file.read_row_group(group) if meta.row_group(group).total_byte_size <= WHOLE_GROUP_BYTES else None
        for name in names:
            if name == "ts":
                values = ts
            else:
                source = file.read_row_group(group, columns=[name]) if table is None else table
                values = source.column(name).to_numpy()
            parts[name].append(values if whole else values[keep])
    empty = file.schema_arrow.empty_table()
    return {name: (np.concatenate(found) if len(found) > 1 else found[0]) if found
            else empty.column(name).to_numpy() for name, found in parts.items()}
