"""The catalog's errors, in one module so the lock, commit and merge code can raise them without cycles.

Every error is a ``ValueError`` (the CLI turns those into one red line) and every message
says what was NOT done: a refused write leaves the catalog as it was.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CatalogError", "DamagedDatasetError", "LockTimeoutError"]


class CatalogError(ValueError):
    """A dataset that is missing or ambiguous, or a write that does not fit the catalog."""


class LockTimeoutError(CatalogError):
    """Another writer held a dataset's lock for longer than this writer was willing to wait."""


class DamagedDatasetError(CatalogError):
    """A stored file that cannot be read (truncated, not Parquet, missing columns)."""

    def __init__(self, label: str, path: Path, reason: str) -> None:
        self.label = label
        self.path = path
        self.reason = reason
        super().__init__(
            f"{label} is damaged ({path}: {reason}); nothing was read or written: restore the file from a "
            "backup, or delete its folder and ingest the data again"
        )
