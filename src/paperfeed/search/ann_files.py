"""The ANN base files on disk: each version written under its own name
(``<stem>.<version>.usearch``) and then named in a small pointer file (``<stem>.json``: file,
version, model, dim, watermark), each step an atomic rename, so a reader always finds a
complete file with its own metadata. Temporary files of writers killed mid-write are removed
by later writes."""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paperfeed.search.ann import HnswStore


# A temporary file is ".<name>.<pid of its writer>.tmp". A writer killed mid-write leaves it
# (a base file's is up to ~1 GB); the next write removes it once its writer is gone, or when
# it has not grown for STALE_TEMP_SECONDS (its pid may have been reused by another process).
STALE_TEMP_SECONDS = 3600.0
_TEMP = re.compile(r"^\..+\.(\d+)\.tmp$")


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete temporary files in ``directory`` whose writer is gone or that went stale;
    the ones removed. A live writer's file (its pid alive, written to lately) is kept."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            stale = now - entry.stat().st_mtime > STALE_TEMP_SECONDS
            if stale or not _alive(int(match.group(1))):
                entry.unlink()
                removed.append(entry)
        except FileNotFoundError:  # its writer renamed or removed it meanwhile
            continue
    return removed


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        tmp.write_text(json.dumps(data, default=str))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_pointer(path: Path) -> dict[str, Any] | None:
    """The pointer file's metadata with ``file`` and ``version`` (a pointer written before
    versioned files names ``<stem>.usearch``), or None when absent or unreadable."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if "file" not in meta:  # the layout before versioned files: one fixed name
        meta["file"] = path.with_suffix(".usearch").name
        meta["version"] = f"unversioned-{meta.get('saved_at', '')}"
    return meta


def publish_base(
    store: HnswStore, directory: Path, stem: str, meta: dict[str, Any]
) -> dict[str, Any]:
    """Save ``store`` as a new version of the base file ``<stem>``, name it in the pointer
    ``<stem>.json`` and delete the older versions (workers that mapped one keep reading it
    until they map the new one: an unlinked file lives on while it is mapped). Returns the
    pointer's metadata. The caller keeps other writers out (the update lock)."""
    version = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
    name = f"{stem}.{version}.usearch"
    store.save_file(directory / name)
    pointer = {**meta, "file": name, "version": version, "count": len(store)}
    write_json(directory / f"{stem}.json", pointer)
    remove_bases(directory, stem, keep=name)
    return pointer


def remove_bases(directory: Path, stem: str, keep: str | None = None) -> None:
    """Delete base files of ``<stem>`` other than ``keep`` (all, and the pointer, when None)."""
    for found in glob.glob(
        os.path.join(glob.escape(str(directory)), f"{glob.escape(stem)}.*usearch")
    ):
        if os.path.basename(found) != keep:
            Path(found).unlink(missing_ok=True)
    if keep is None:
        (directory / f"{stem}.json").unlink(missing_ok=True)
