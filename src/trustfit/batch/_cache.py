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

__all__ = ["cache_dir", "compiled_in_cache", "load_module", "module_name", "read_note",
           "unsafe_reason", "write_note"]

# (Is a model's kernel ready?  trustfit.batch._kernel.kernel_is_cached / kernel_is_loaded,
# on a note per kernel and :func:`compiled_in_cache`.)

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


def module_name(source: str) -> str:
    """The module name of generated ``source``: :data:`PREFIX` and its SHA-256."""
    return PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


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
    own = _own_file(path)
    return None if own is None else own[0]


def _own_file(path: Path) -> tuple[bytes, os.stat_result] | None:
    """:func:`_read_own_file`'s bytes with the file's status, from the same descriptor."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not _is_own(st):
            return None
        return fh.read(), st


def _is_own(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


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
    only read back by :func:`read_note` as a hint: which module a model's kernel is, this
    machine's measured constants)."""
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


def compiled_in_cache(module_name: str, function: str) -> bool:
    """Whether the private folder holds ``function`` of the generated module
    ``module_name`` compiled by numba, as the next :func:`load_module` of that module would
    find it: the module's file is ours and its bytes hash to its name (else
    ``load_module`` would write it again), and numba's index for the function
    (``__pycache__/<module>.<function>-*.nbi``) is a file of ours not older than the
    module's file.  (numba stamps an index with its source file's modification time and
    size and compiles again when they differ; an index older than the file was written
    for an earlier copy of it.)  Nothing is executed or unpickled: a few file reads."""
    folder = cache_dir()
    if folder is None or not module_name.startswith(PREFIX):
        return False
    own = _own_file(folder / f"{module_name}.py")
    if own is None or PREFIX + hashlib.sha256(own[0]).hexdigest()[:32] != module_name:
        return False
    made = own[1].st_mtime
    start = f"{module_name}.{function}-"
    try:
        with os.scandir(folder / "__pycache__") as entries:
            for entry in entries:
                if entry.name.startswith(start) and entry.name.endswith(".nbi"):
                    st = entry.stat(follow_symlinks=False)
                    if _is_own(st) and st.st_mtime >= made:
                        return True
    except OSError:
        pass
    return False
