"""Several files replaced as one commit, and the recovery of a commit a killed writer left half-done.

One ``os.replace`` is atomic; two are not: a writer killed between renaming the candles
and renaming their trade flow left a catalog whose candle volume no longer matched the
flow. So a write of several files goes in two phases:

1. every new file is written in full to a temp file next to its destination and fsynced;
2. a small manifest listing ``temp -> destination`` pairs is written to ``<root>/.commits/``
   (atomically: temp name, fsync, rename). From this instant the commit has happened.
   Then the temp files are renamed over their destinations and the manifest removed.

A writer killed before step 2 leaves only temp files: never read, and removed by the next
write of that dataset. A writer killed during step 2 leaves the manifest: the next reader
or writer of any dataset it names rolls it forward (renames the temps still present) while
holding that dataset's lock, so readers never see one dataset new and its sibling old. A
single-file write needs no manifest: its one rename is the commit.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

COMMITS_DIR = ".commits"
TEMP_SUFFIX = ".tmp"

__all__ = ["COMMITS_DIR", "Pending", "Staged", "commit", "fsync_dir", "pending", "settle", "temp_path", "touches"]


@dataclass(frozen=True, slots=True)
class Staged:
    """A complete, fsynced temp file waiting to replace ``final``."""

    tmp: Path
    final: Path


@dataclass(frozen=True, slots=True)
class Pending:
    """A manifest found on disk: a commit that was decided but maybe not finished."""

    manifest: Path
    files: tuple[Staged, ...]

    def unfinished(self) -> tuple[Staged, ...]:
        return tuple(s for s in self.files if s.tmp.exists())


def temp_path(final: Path) -> Path:
    """A temp name unique to this process and call, hidden (dot) and next to ``final`` (same file system)."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    """Make a rename durable; not every platform can open a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace(staged: Staged) -> None:
    os.replace(staged.tmp, staged.final)
    fsync_dir(staged.final.parent)


def commit(root: Path, staged: list[Staged]) -> None:
    """Swap every staged file in, as one unit (see the module docstring)."""
    if not staged:
        return
    if len(staged) == 1:
        _replace(staged[0])
        return
    folder = root / COMMITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / f"{os.getpid()}-{uuid.uuid4().hex}.json"
    body = {"files": [[str(s.tmp.relative_to(root)), str(s.final.relative_to(root))] for s in staged]}
    draft = manifest.with_name(manifest.name + TEMP_SUFFIX)
    with open(draft, "w", encoding="utf-8") as handle:
        json.dump(body, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(draft, manifest)
    fsync_dir(folder)
    for item in staged:
        _replace(item)
    manifest.unlink(missing_ok=True)
    fsync_dir(folder)


def pending(root: Path) -> list[Pending]:
    """Every commit manifest under ``root`` (usually none: one ``stat`` of a missing folder)."""
    folder = root / COMMITS_DIR
    if not folder.is_dir():
        return []
    found = []
    for manifest in sorted(folder.glob("*.json")):
        try:
            pairs = json.loads(manifest.read_text("utf-8"))["files"]
            files = tuple(Staged(root / tmp, root / final) for tmp, final in pairs)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # removed meanwhile by its finishing writer; never a half-written one (renamed in whole)
        found.append(Pending(manifest, files))
    return found


def settle(root: Path, folders: Iterable[Path]) -> int:
    """Finish decided commits touching these dataset folders, then remove their leftover temp files.

    The caller holds the folders' dataset locks, so no live writer is staging there: a temp
    file a manifest names is renamed into place, any other one is debris of a killed writer.
    A manifest is removed once none of its temps is left. Returns how many files were renamed.
    """
    wanted = set(folders)
    done = 0
    for item in pending(root):
        for staged in item.unfinished():
            if staged.final.parent in wanted:
                _replace(staged)
                done += 1
        if not item.unfinished():
            item.manifest.unlink(missing_ok=True)
    for folder in wanted:
        if folder.is_dir():
            for path in folder.glob(f".*{TEMP_SUFFIX}"):
                path.unlink(missing_ok=True)
    return done


def touches(root: Path, folder: Path) -> bool:
    """Whether a decided commit still has a file to rename into ``folder``."""
    return any(s.final.parent == folder for item in pending(root) for s in item.unfinished())
