"""Is a model's compiled kernel ready?  Loaded in this process, cached on disk, or neither.

``backend='auto'`` (:mod:`._backend`) needs the answer before deciding, and must get it
in well under a millisecond: generating the kernel's source to look for its file would
cost more than fitting a hundred curves on numpy.  So every kernel that becomes ready
(compiled or loaded by :func:`._kernel.warm_kernel`) is noted:

* in this process (:func:`is_loaded`): a kernel warmed here runs at once;
* on disk, in the record ``kernels.json`` of the private cache folder (:mod:`._records`):
  the kernel's key (the model's :func:`._codegen.model_key`, the kernel version, the
  method) and the path of its generated module.  :func:`is_cached` trusts a note only
  while the module is still there with numba's compiled index beside it (``__pycache__/
  <module>.*.nbi``) at least as new as the module (numba's index is stamped with the
  module's modification time; an older one is stale).

A kernel compiled without a note (``warm_kernel`` called directly, or a trustfit that did
not keep the record) is found by its module's name, the hash of its generated source
(:func:`._cache.load_module`'s rule), which costs the generation (~10-20 ms).  The answer steers a prediction;
it never changes a result.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ._records import read_record, update_record

#: The record of kernels known to be compiled into the cache folder.
KERNELS = "kernels.json"

_LOCK = threading.Lock()
_LOADED: set[tuple] = set()


def kernel_key(bm, method: str) -> str:
    """The key of ``bm``'s kernel for ``method``: model, kernel version, method."""
    from ._codegen import model_key
    from ._kernel import KERNEL_VERSION

    return f"{model_key(bm)}_{KERNEL_VERSION}_{method}"


def _model_text(bm) -> tuple:
    """The model as this process knows it (expression, parameter and variable order):
    cheaper than its cache key, which needs the code generator."""
    import sympy

    return (sympy.srepr(bm.expr), tuple(map(sympy.srepr, bm.param_symbols)),
            tuple(map(sympy.srepr, bm.independent_symbols)))


def is_loaded(bm, parallel: bool, method: str | None = None) -> bool:
    """Whether the model's kernel for ``method`` (None: for any method) was made ready
    (compiled or loaded) in this process."""
    text = _model_text(bm)
    with _LOCK:
        return any(k[:2] == (text, bool(parallel)) and method in (None, k[2])
                   for k in _LOADED)


def is_cached(bm, method: str) -> bool:
    """Whether the kernel's compiled code is in the cache folder, as noted when it was
    made ready (see the module docstring)."""
    path = read_record(KERNELS).get(kernel_key(bm, method))
    if isinstance(path, str) and compiled_beside(Path(path)):
        return True
    path = _module_path(bm, method)
    return path is not None and compiled_beside(path)


def _module_path(bm, method: str) -> Path | None:
    """Where :func:`._cache.load_module` keeps the kernel's module (named by the hash of
    its source): for a kernel compiled without a note (by ``warm_kernel`` directly, or
    before the record existed).  Generating the source costs ~10-20 ms, asked only for
    batches that numpy would take longer than a load on."""
    import hashlib

    from ._cache import PREFIX, cache_dir
    from ._kernel import kernel_source

    folder = cache_dir()
    if folder is None:
        return None
    try:
        digest = hashlib.sha256(kernel_source(bm, method).encode("utf-8")).hexdigest()
    except Exception:  # a model the generator refuses: not cached, the compile will say why
        return None
    return folder / f"{PREFIX}{digest[:32]}.py"


def compiled_beside(module: Path) -> bool:
    """Whether numba's index for ``module`` exists and is not older than the module."""
    try:
        made = os.stat(module).st_mtime
        folder = module.parent / "__pycache__"
        stamps = [os.stat(folder / f).st_mtime for f in os.listdir(folder)
                  if f.startswith(module.stem + ".") and f.endswith(".nbi")]
    except OSError:
        return False
    return bool(stamps) and min(stamps) >= made


def mark_ready(bm, method: str, parallel: bool) -> None:
    """Note that the kernel is ready in this process and, when its module is a file in
    the cache folder, that it is cached there."""
    key = kernel_key(bm, method)
    with _LOCK:
        _LOADED.add((_model_text(bm), bool(parallel), method))
    from ._kernel import load_kernel

    path = getattr(load_kernel(bm, method), "__file__", None)
    if isinstance(path, str) and os.path.isfile(path) and compiled_beside(Path(path)):
        if read_record(KERNELS).get(key) != path:
            update_record(KERNELS, {key: path})


def forget_loaded() -> None:
    """Forget what this process made ready (for tests)."""
    with _LOCK:
        _LOADED.clear()
