"""How the kernel's real modules become one model's compiled kernel.

The batch kernel is ordinary Python in ordinary modules (``_kernel_*.py``): the
Levenberg-Marquardt loop, its rules, the per-curve bookkeeping, variable projection and the
lanes.  Only the model-specific pass (residuals, ``J^T J`` and ``J^T r`` printed from sympy,
and the small solves unrolled for the model's number of parameters) is generated text
(:mod:`._codegen`).  Each kernel function is marked with :func:`kernel` (its numba
options, not compiled at import) and refers to the model's generated names (``NP``,
``_accum``, ``_damped_step``, ...; declared for readers and tools in
:mod:`._kernel_slots`).

:func:`bind_kernel` runs at the end of a generated module: it copies every kernel function
of the method's modules into the generated module's namespace (same code, that namespace as
its globals, the generated file as its file name) and compiles it there with ``njit`` and
its marked options.  So each model gets its own compiled kernel exactly as if the whole
source had been one module, numba's disk cache for it lives beside the generated file in
trustfit's private folder (:mod:`._cache`), named by the SHA-256 of the generated source,
and that source names the SHA-256 of these modules (:func:`sources_digest`): a changed
kernel module is a new cache entry, never a stale one.

An entry point that differs from another only by the function it calls (the lanes' entry
points: the rows' split into blocks, another block fitter) is declared with
:func:`entry_variant`: one body, compiled once per variant with that name rebound.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import types
from typing import Any, Callable, TypeVar, cast

__all__ = ["bind_kernel", "entry_variant", "kernel", "method_modules", "sources_digest"]

F = TypeVar("F", bound=Callable[..., Any])

# The real modules of each method's kernel, in binding order.
_COMMON = ("_kernel_exp", "_kernel_rules", "_kernel_loop", "_kernel_curves")
_METHODS = {
    "varpro": ("_kernel_varpro", "_kernel_model", "_kernel_lanes", *_COMMON),
    # 'lm': the solver shared by every model, and each model's C callables
    "lm_solver": ("_kernel_shared", "_kernel_rules", "_kernel_loop", "_kernel_curves"),
    "lm_model": ("_kernel_exp", "_kernel_cabi"),
}
_SLOTS = "_kernel_slots"
# Levenberg-Marquardt's shared rules (plain functions, also the single fit's), compiled
# inline beside the kernel functions with these options
_RULES = "trustfit.steps.lm_rules"
# the kernel option of an entry_variant naming its rebound globals (not a numba option)
_REBIND_OPTION = "rebind"
# the kernel option making a function a C callable with this signature (numba.cfunc)
_CFUNC_OPTION = "cfunc"
_RULE_OPTIONS: dict[str, Any] = {"_nrt": False, "fastmath": False, "nogil": True, "error_model": "numpy",
                 "inline": "always"}


def kernel(**options: Any) -> Callable[[F], F]:
    """Mark a kernel function with its numba options (``njit`` keywords; ``cache``
    defaults to True).  The function stays plain Python until :func:`bind_kernel`."""

    def mark(func: F) -> F:
        func.__kernel_options__ = options  # type: ignore[attr-defined]
        return func

    return mark


def entry_variant(base: F, name: str, **slots: str) -> F:
    """The kernel function ``name``: ``base`` (same code, same numba options) with each
    global name of ``slots`` resolved to another kernel function of the generated module,
    e.g. the same split of the rows into blocks with another block fitter.
    :func:`bind_kernel` compiles it under its own name, so it has its own numba
    specializations and its own disk-cache entry."""
    code = base.__code__.replace(co_name=name, co_qualname=name)
    variant = types.FunctionType(code, base.__globals__, name, base.__defaults__,
                                 base.__closure__)
    variant.__qualname__ = name
    options = {**getattr(base, "__kernel_options__"), _REBIND_OPTION: tuple(sorted(slots.items()))}
    setattr(variant, "__kernel_options__", options)
    return cast(F, variant)


def _module(name: str) -> types.ModuleType:
    return importlib.import_module(f"{__package__}.{name}")


def method_modules(method: str) -> list[types.ModuleType]:
    """The real modules of the kernel of ``method`` ('lm' or 'varpro')."""
    return [_module(name) for name in _METHODS[method]]


_DIGESTS: dict[str, str] = {}


def _fingerprint(h, code: types.CodeType) -> None:
    # what runs: bytecode, names and constants (nested code objects too), not the file
    # on disk, which may have been edited since this process imported it
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _fingerprint(h, const)
        else:
            h.update(repr(const).encode())


def sources_digest(method: str) -> str:
    """SHA-256 of the kernel code of ``method`` as imported in this process (every
    function's bytecode and constants, its numba options, every constant): written into
    the generated source, so that it names the exact kernel code it runs."""
    digest = _DIGESTS.get(method)
    if digest is None:
        h = hashlib.sha256()
        rules = importlib.import_module(_RULES)
        for mod in [*method_modules(method), rules]:
            names = rules.__all__ if mod is rules else _own_names(mod)
            for name in names:
                obj = getattr(mod, name)
                h.update(f"{mod.__name__}.{name}".encode())
                func = getattr(obj, "_defn", obj)  # numba intrinsics keep theirs in _defn
                code = getattr(func, "__code__", None)
                if code is None:
                    h.update(repr(obj).encode())
                else:
                    _fingerprint(h, code)
                    h.update(repr(getattr(obj, "__kernel_options__", None)).encode())
        digest = _DIGESTS[method] = h.hexdigest()
    return digest


def _rebound(func: Callable[..., Any], namespace: dict[str, Any], filename: str):
    code = func.__code__.replace(co_filename=filename)
    new = types.FunctionType(code, namespace, func.__name__, func.__defaults__, func.__closure__)
    new.__qualname__ = func.__qualname__
    return new


_OWN: dict[str, tuple[str, ...]] = {}


def _own_names(mod: types.ModuleType) -> tuple[str, ...]:
    """The names ``mod`` defines at its top level (functions, classes, assignments), not
    the ones it imports: the slots it imports are the generated module's to fill."""
    names = _OWN.get(mod.__name__)
    if names is None:
        with open(mod.__file__ or "", "rb") as fh:
            tree = ast.parse(fh.read())
        found: list[str] = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for leaf in ast.walk(target):
                        if isinstance(leaf, ast.Name):
                            found.append(leaf.id)
        names = _OWN[mod.__name__] = tuple(n for n in found
                                            if not n.startswith("__") and hasattr(mod, n))
    return names


def bind_kernel(namespace: dict[str, Any], method: str) -> None:
    """Compile the kernel of ``method`` into the generated module ``namespace`` (see the
    module docstring): every name each kernel module defines is copied, kernel functions
    rebound to ``namespace`` and compiled, and what it imports (``math``, ``np``,
    ``prange``) unless the generated code has that name; the slots are never copied.
    numba's disk cache is on only when the module has a real file."""
    from numba import njit

    filename = namespace["__file__"]
    on_disk = not filename.startswith("<")
    slots = set(vars(_module(_SLOTS)))
    rules = importlib.import_module(_RULES)
    for name in rules.__all__:
        obj = getattr(rules, name)
        namespace[name] = (njit(cache=on_disk, **_RULE_OPTIONS)(_rebound(obj, namespace, filename))
                           if callable(obj) else obj)
    variants = []
    for mod in method_modules(method):
        own = _own_names(mod)
        for name, obj in vars(mod).items():
            if name in own or name.startswith("__") or name in slots:
                continue
            if getattr(obj, "__kernel_options__", None) is None:
                namespace.setdefault(name, obj)  # what it imports: math, np, prange
        for name in own:
            obj = getattr(mod, name)
            options = getattr(obj, "__kernel_options__", None)
            if options is None:
                namespace[name] = obj  # constants and numba intrinsics
                continue
            opts = dict(options)
            cache = opts.pop("cache", True) and on_disk
            rebind = opts.pop(_REBIND_OPTION, None)
            signature = opts.pop(_CFUNC_OPTION, None)
            if signature is not None:  # a C callable, compiled now (its signature is fixed)
                from numba import cfunc

                namespace[name] = cfunc(signature, cache=cache, **opts)(
                    _rebound(obj, namespace, filename))
                continue
            if rebind is not None:  # once every kernel function it may name is bound
                variants.append((name, obj, opts, cache, rebind))
                continue
            namespace[name] = njit(cache=cache, **opts)(_rebound(obj, namespace, filename))
    for name, obj, opts, cache, rebind in variants:
        scope = {**namespace, **{slot: namespace[target] for slot, target in rebind}}
        namespace[name] = njit(cache=cache, **opts)(_rebound(obj, scope, filename))
