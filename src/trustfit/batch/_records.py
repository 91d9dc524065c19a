"""Small JSON records in the private kernel cache folder: measured per-machine constants
(:mod:`._cost`).

The folder is the one :func:`._cache.cache_dir` checks on every use (owned by this user,
not writable by others).  A record is data, never code: it is read with ``json`` through a
descriptor opened without following links, from a regular file owned by this user, and
every value is checked by its reader; a missing, foreign, corrupt or out-of-range record
is ignored (the reader falls back to its documented defaults).  Writes go through a
private temporary file and a rename, so a concurrent process sees the old record or the
new one, never half of one.  Records only steer predictions: losing an update to a race
costs a less accurate guess, never a wrong result.  Without a safe folder the records
live in this process only.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading

from ._cache import cache_dir

_LOCK = threading.Lock()
#: Records of this process, by name: what was read or written (and all there is when no
#: safe folder exists).
_MEMORY: dict[str, dict] = {}


def read_record(name: str) -> dict:
    """The record ``name`` (a dict, empty when there is none or it is unusable)."""
    with _LOCK:
        if name in _MEMORY:
            return dict(_MEMORY[name])
        data = _read_file(name)
        _MEMORY[name] = data
        return dict(data)


def update_record(name: str, values: dict) -> None:
    """Merge ``values`` into the record ``name`` and store it (in the folder when safe)."""
    with _LOCK:
        data = _read_file(name) if name not in _MEMORY else dict(_MEMORY[name])
        data.update(values)
        _MEMORY[name] = data
        folder = cache_dir()
        if folder is None:
            return
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(data, fh, sort_keys=True)
                os.replace(tmp, folder / name)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a prediction record only: keep it in memory


def forget_memory() -> None:
    """Drop this process's copies, so the next read sees the folder (for tests)."""
    with _LOCK:
        _MEMORY.clear()


def _read_file(name: str) -> dict:
    folder = cache_dir()
    if folder is None:
        return {}
    try:
        fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid()
                    or st.st_mode & 0o022 or st.st_size > 1 << 20):
                return {}
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
