"""Market-data file readers: one module per vendor format, content-based detection, one entry point.

Readers return ``RawTable``: rows exactly as the file holds them (order, duplicates and
gaps kept) in standard columns, so the quality layer can judge and repair with the file's
row numbers at hand. See ``RawTable`` for the column conventions (int64 epoch ms, volume
in base units).
"""

from quantum_trader.data.loaders.binance_depth import read_binance_depth
from quantum_trader.data.loaders.detect import FORMATS, detect_format
from quantum_trader.data.loaders.registry import read_table
from quantum_trader.data.loaders.table import LoaderError, RawTable

__all__ = ["FORMATS", "LoaderError", "RawTable", "detect_format", "read_binance_depth", "read_table"]
