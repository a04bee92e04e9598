"""Transparent access to a file's content whether it is plain, gzip or a one-member zip.

Exchanges ship the same CSV bare, gzipped (.csv.gz) or zipped (Binance's monthly dumps,
Bybit's order-book archives); detection and parsing must see the same bytes in all three,
so every reader goes through here instead of trusting the extension.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

from quantum_trader.data.loaders.table import LoaderError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
ARROW_MAGIC = b"ARROW1"
PARQUET_MAGIC = b"PAR1"


def raw_head(path: Path, size: int = 8) -> bytes:
    """The first bytes of the file as stored (before any decompression)."""
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise LoaderError(path, f"cannot open file: {exc.strerror or exc}") from exc


def _zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    members = [
        info.filename
        for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith("__MACOSX/")
    ]
    if len(members) != 1:
        raise LoaderError(
            path, f"zip archive must hold exactly one data file, found {len(members)}: {members[:5]}"
        )
    return members[0]


def zip_member_name(path: Path) -> str:
    """Name of the single data member of a zip archive (its name often says what it holds)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _zip_member(path, archive)
    except zipfile.BadZipFile as exc:
        raise LoaderError(path, f"not a readable zip archive: {exc}") from exc


def content_head(path: Path, size: int = 64 * 1024) -> bytes:
    """Up to ``size`` decompressed bytes from the start of the content."""
    magic = raw_head(path, 4)
    try:
        if magic.startswith(GZIP_MAGIC):
            with gzip.open(path, "rb") as handle:
                return handle.read(size)
        if magic == ZIP_MAGIC:
            with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as handle:
                return handle.read(size)
        with path.open("rb") as handle:
            return handle.read(size)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LoaderError(path, f"cannot read content: {exc}") from exc


def content_bytes(path: Path) -> bytes:
    """The whole decompressed content; files we read fit in memory by design (one month, one day)."""
    magic = raw_head(path, 4)
    try:
        if magic.startswith(GZIP_MAGIC):
            return gzip.decompress(path.read_bytes())
        if magic == ZIP_MAGIC:
            with zipfile.ZipFile(path) as archive:
                return archive.read(_zip_member(path, archive))
        return path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise LoaderError(path, f"cannot read content: {exc}") from exc


def head_lines(path: Path, count: int = 3) -> list[str]:
    """The first ``count`` non-empty text lines of the content (BOM stripped), for sniffing."""
    text = content_head(path).decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line][:count]
