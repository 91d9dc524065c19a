"""Where generated kernel modules live, and how they are loaded: only our own code runs.

A kernel module is Python source that trustfit generates from a model; numba
compiles it, and with ``cache=True`` stores the machine code beside it
(``__pycache__/*.nbi``, ``*.nbc``) so that the next process loads it in a
fraction of a second instead of compiling for several.  Both the module and
numba's index (a pickle) are *executed* when loaded, so a file planted in that
folder by someone else would run as the user.  Hence:

1. **A private folder, checked on every use** (:func:`cache_dir`): the folder,
   and its ``__pycache__``, must be real directories (not symbolic links),
   owned by this user, and not writable by group or others; every ancestor must
   be owned by this user or root and not writable by others unless sticky (as
   ``/tmp`` is), so nobody else can swap the folder after the check.  Missing
   folders are created with mode 0700.  Candidates, in order:
   ``$TRUSTFIT_CACHE_DIR`` if set, else ``~/.cache/trustfit/batch`` and then
   ``$TMPDIR/trustfit-batch-<uid>``.  When none passes, there is no disk cache
   at all (below), never a folder that failed.
2. **Only bytes this process generated are executed** (:func:`load_module`):
   the source is always generated in-process; the file is named by the SHA-256
   of that source, and the bytes on disk are compared with it (read through a
   descriptor opened without following links, checked to be a regular file of
   ours).  A missing or different file is replaced atomically.  The code object
   is compiled from the *in-memory* bytes, with the file's path as its filename
   so that numba's cache (keyed on that path and the file's stamp) stays
   effective; nothing is imported from disk by name.
3. **No safe folder: no disk.**  The module is compiled from memory with numba's
   disk cache switched off; it is compiled once per process instead of once per
   machine, and nothing is read from or written to disk.  The reason is logged
   (logger ``trustfit.batch``, level INFO), not warned: the fit is unaffected.

Reference: the checks are those of OpenSSH's ``StrictModes`` (owner, no group or
world write on the file and its directories) and of Python's own
``tempfile.mkdtemp`` (mode 0700).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
import tempfile
import threading
import types
from pathlib import Path

__all__ = ["cache_dir", "load_module", "numba_index_exists", "read_note", "unsafe_reason",
           "write_note"]

# (Is a model's kernel ready?  trustfit.batch._kernel.kernel_is_cached / kernel_is_loaded,
# on these notes and numba's index.)

_log = logging.getLogger("trustfit.batch")

#: Module name prefix of generated kernels.
PREFIX = "tf_batch_"


def _candidates() -> list[Path]:
    env = os.environ.get("TRUSTFIT_CACHE_DIR")
    if env:
        return [Path(env)]
    return [Path.home() / ".cache" / "trustfit" / "batch",
            Path(tempfile.gettempdir()) / f"trustfit-batch-{os.getuid()}"]


def cache_dir() -> Path | None:
    """The private folder for generated kernels, checked now; ``None`` if no
    candidate is safe (then kernels are compiled in memory, without a disk cache)."""
    for path in _candidates():
        reason = _prepare(path)
        if reason is None:
            return Path(os.path.abspath(path))
        _log.info("trustfit.batch: not caching kernels in %s: %s", path, reason)
    return None


def _prepare(path: Path) -> str | None:
    """Create ``path`` (mode 0700) and its ``__pycache__`` if missing; return why it
    is not a safe private folder, or None."""
    path = Path(os.path.abspath(path))
    try:
        _make_private(path)
        reason = unsafe_reason(path)
        if reason is not None:
            return reason
        _make_private(path / "__pycache__")
        reason = unsafe_reason(path / "__pycache__", ancestors=False)
    except OSError as exc:
        return f"cannot use it ({exc.strerror or exc})"
    if reason is None and not os.access(path / "__pycache__", os.W_OK | os.X_OK):
        reason = "it is not writable"
    return reason


def _make_private(path: Path) -> None:
    """mkdir -p with mode 0700 for every level created here."""
    missing = []
    p = path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            pass  # a concurrent process made it; it is checked like any other


def unsafe_reason(path: Path, ancestors: bool = True) -> str | None:
    """Why ``path`` is not a folder only this user can change, or None.

    The folder itself: a real directory (not a symbolic link), owned by this
    user, no group/other write.  Its ancestors (resolved): owned by this user
    or root, no group/other write unless the sticky bit is set.
    """
    uid = os.getuid()
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != uid:
        return f"it is owned by uid {st.st_uid}, not by this user (uid {uid})"
    if st.st_mode & 0o022:
        return f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    if not ancestors:
        return None
    parent = Path(os.path.realpath(path.parent))
    for anc in (parent, *parent.parents):
        st = os.stat(anc)
        if st.st_uid not in (0, uid):
            return f"its ancestor {anc} is owned by uid {st.st_uid}"
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return (f"its ancestor {anc} is writable by group or others without the "
                    f"sticky bit (mode {stat.S_IMODE(st.st_mode):04o})")
    return None


_LOCK = threading.Lock()


def load_module(source: str) -> types.ModuleType:
    """Execute generated ``source`` as a module and return it (see the module
    docstring): from a verified file in the private cache folder, so that numba's
    disk cache works, or from memory with numba's disk cache off."""
    data = source.encode("utf-8")
    name = PREFIX + hashlib.sha256(data).hexdigest()[:32]
    with _LOCK:
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__trustfit_source__", None) == data:
            return mod
        folder = cache_dir()
        if folder is not None:
            path = folder / f"{name}.py"
            try:
                if _read_own_file(path) != data:
                    _write_atomic(path, data)
                filename = str(path)
            except OSError as exc:
                _log.info("trustfit.batch: not caching kernel %s: %s", path, exc)
                folder = None
        if folder is None:
            # in memory: numba needs a source file for its disk cache, so none
            data_run = source.replace("cache=True", "cache=False").encode("utf-8")
            filename = f"<trustfit kernel {name}>"
        else:
            data_run = data
        code = compile(data_run, filename, "exec", dont_inherit=True)
        mod = types.ModuleType(name)
        mod.__file__ = filename
        mod.__trustfit_source__ = data  # type: ignore[attr-defined]  # our own module attribute
        sys.modules[name] = mod
        try:
            exec(code, mod.__dict__)  # noqa: S102 - our own generated source, verified
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return mod


def _read_own_file(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file owned by this user and not
    writable by others, read without following a symbolic link; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid()
                or st.st_mode & 0o022):
            return None
        return fh.read()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fresh private file and a rename, so
    concurrent processes never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".py", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_note(name: str, text: str) -> None:
    """Best effort: a small text note ``name`` in the private folder (never executed,
    only read back by :func:`read_note` as a hint, e.g. which module a model's kernel is)."""
    folder = cache_dir()
    if folder is None:
        return
    path = folder / name
    try:
        if _read_own_file(path) != text.encode("utf-8"):
            _write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        _log.info("trustfit.batch: cannot write %s: %s", path, exc)


def read_note(name: str) -> str | None:
    """The note ``name`` if the private folder holds one of ours (see :func:`write_note`)."""
    folder = cache_dir()
    data = None if folder is None else _read_own_file(folder / name)
    return None if data is None else data.decode("utf-8", "replace")


def numba_index_exists(module_name: str, function: str) -> bool:
    """Whether numba's disk cache in the private folder has an index for ``function`` of
    the generated module ``module_name`` (so its first call loads instead of compiling)."""
    folder = cache_dir()
    if folder is None:
        return False
    return any((folder / "__pycache__").glob(f"{module_name}.{function}-*.nbi"))

