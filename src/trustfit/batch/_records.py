"""Small JSON records in the private kernel cache folder: measured per-machine constants
(:mod:`._cost`).

The folder is the one :func:`._cache.cache_dir` checks on every use (owned by this user,
not writable by others).  A record is data, never code: a note of that folder
(:func:`._cache.read_note`: a regular file owned by this user, read through a descriptor
opened without following links) parsed with ``json``, and every value is checked by its
reader; a missing, foreign, corrupt, oversized or out-of-range record is ignored (the
reader falls back to its documented defaults).  Writes (:func:`._cache.write_note`) go
through a private temporary file and a rename, so a concurrent process sees the old
record or the new one, never half of one.  Records only steer predictions: losing an
update to a race costs a less accurate guess, never a wrong result.  Without a safe folder
the records live in this process only.
"""

from __future__ import annotations

import json
import threading

from ._cache import read_note, write_note

_LOCK = threading.Lock()
#: Records of this process, by name: what was read or written (and all there is when no
#: safe folder exists).
_MEMORY: dict[str, dict] = {}
#: A record larger than this (characters) is not ours to read.
_MAX_CHARS = 1 << 20


def read_record(name: str) -> dict:
    """The record ``name`` (a dict, empty when there is none or it is unusable)."""
    with _LOCK:
        if name in _MEMORY:
            return dict(_MEMORY[name])
        data = _read_file(name)
        _MEMORY[name] = data
        return dict(data)


def update_record(name: str, values: dict) -> None:
    """Merge ``values`` into the record ``name`` and store it (in the folder when safe;
    a prediction record only: when it cannot be written, this process keeps it)."""
    with _LOCK:
        data = _read_file(name) if name not in _MEMORY else dict(_MEMORY[name])
        data.update(values)
        _MEMORY[name] = data
        write_note(name, json.dumps(data, sort_keys=True))


def forget_memory() -> None:
    """Drop this process's copies, so the next read sees the folder (for tests)."""
    with _LOCK:
        _MEMORY.clear()


def _read_file(name: str) -> dict:
    text = read_note(name)
    if text is None or len(text) > _MAX_CHARS:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
