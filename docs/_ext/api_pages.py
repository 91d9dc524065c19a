"""The API reference pages, generated from the modules' ``__all__`` so that no public name
can be left out.

:data:`USER_MODULES` are the modules a user imports (in the order of the reference's
table of contents); every other module of trustfit whose path has no component starting
with ``_`` and that defines ``__all__`` is listed under "Internals" by :func:`modules`.
Each object is documented once, under the first module that exports it; where a later
module re-exports it, that page says where it is documented. :func:`write_pages` writes
one page per module (an ``autosummary`` table whose stubs Sphinx generates) into
``docs/api/generated``; ``conf.py`` calls it before Sphinx reads the sources.
"""
from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from dataclasses import dataclass
from pathlib import Path

#: The modules users import, each with a title and the names it documents (``None``: its
#: ``__all__``). ``trustfit`` also documents its lazily imported names that live in no
#: public module of their own (``odr``, ``ODRResult``).
USER_MODULES: list[tuple[str, str, list[str] | None]] = [
    ("trustfit", "Fitting: least_squares, curve_fit, fit, multistart, odr, fit_batch, "
                 "fit_global", None),
    ("trustfit.models", "Models, the lmfit way", None),
    ("trustfit.models.library", "The model library", None),
    ("trustfit.batch", "Batch fits", None),
    # What fit_batch returns for counts and for errors in x (classes of private modules,
    # reachable only as fit_batch's results, so documented under their own module).
    ("trustfit.batch._poisson", "Batch fits of counts: their result", ["PoissonBatchResult"]),
    ("trustfit.batch._odr", "Batch fits with errors in x: their result", ["OdrBatchResult"]),
    ("trustfit.analysis.diagnostics", "Diagnosis", ["diagnose", "Diagnosis", "Finding",
                                                    "CHECKS"]),
    ("trustfit.analysis.uncertainty", "Uncertainty and goodness of fit",
     ["covariance", "Covariance", "standard_errors", "correlation", "confidence_intervals",
      "goodness_of_fit", "FitStatistics"]),
    ("trustfit.faces.poisson", "Counts: the result of a Poisson fit", ["PoissonResult"]),
    ("trustfit.strategies.profile", "Profile-likelihood intervals", None),
    ("trustfit.core.events", "Events: what a fit did besides iterating", None),
    ("trustfit.plots", "Plots and animations", None),
    ("trustfit.reference", "Reference problems (NIST StRD)", None),
    ("trustfit.apps.examples", "The textbook example's data", None),
    ("trustfit.cli", "The command line", None),
]
#: Names reachable as ``trustfit.NAME`` (PEP 562, imported on first use) that belong to no
#: user module above.
TOP_LEVEL_EXTRA = ["odr", "ODRResult"]


@dataclass
class Page:
    module: str
    title: str
    documented: list[str]            # names documented on this page
    elsewhere: list[tuple[str, str]]  # (name, the full name where it is documented)
    aliases: list[tuple[str, str]]   # type aliases: (name, what they stand for)


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
    return list(names)


def internal_modules() -> list[str]:
    """Every other non-private module of trustfit that defines ``__all__``."""
    import trustfit

    user = {name for name, _, _ in USER_MODULES}
    found = []
    for info in pkgutil.walk_packages(trustfit.__path__, "trustfit."):
        if any(part.startswith("_") for part in info.name.split(".")) or info.name in user:
            continue
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        if "__all__" in vars(module):
            found.append(info.name)
    return sorted(found)


def _identity(obj) -> int | None:
    """Objects compared by identity for de-duplication; plain values never are."""
    if isinstance(obj, (bool, int, float, str, bytes, type(None))):
        return None
    return id(obj)


def pages() -> tuple[list[Page], list[Page]]:
    """The user pages and the internal pages, each name documented once."""
    seen: dict[int, str] = {}

    def build(module_name: str, title: str, names: list[str] | None) -> Page:
        module = importlib.import_module(module_name)
        if names is None:
            names = _public_names(module)
            if module_name == "trustfit":
                names = names + TOP_LEVEL_EXTRA
        page = Page(module_name, title, [], [], [])
        for name in names:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):   # a module has a page of its own
                page.elsewhere.append((name, obj.__name__))
                continue
            if isinstance(obj, (types.GenericAlias, typing._GenericAlias)):  # type: ignore
                page.aliases.append((name, repr(obj)))
                continue
            key = _identity(obj)
            if key is not None and key in seen:
                page.elsewhere.append((name, seen[key]))
                continue
            if key is not None:
                seen[key] = f"{module_name}.{name}"
            page.documented.append(name)
        return page

    user = [build(*spec) for spec in USER_MODULES]
    internal = [build(name, name, None) for name in internal_modules()]
    return user, internal


def page_rst(page: Page) -> str:
    title = f"``{page.module}``: {page.title}" if page.title != page.module else \
        f"``{page.module}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {page.module}", "   :no-members:",
             "", f".. currentmodule:: {page.module}", ""]
    if page.documented and any(p.startswith("_") for p in page.module.split(".")):
        # autosummary writes no stubs for a private module's names: the classes in full here
        for name in page.documented:
            lines += [f".. autoclass:: {name}", "   :members:", "   :show-inheritance:", ""]
    elif page.documented:
        lines += [".. autosummary::", "   :toctree: ../stubs", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in page.documented]
        lines.append("")
    for name, meaning in page.aliases:
        lines += [f".. py:data:: {name}", "", f"   A type alias: ``{meaning}``.", ""]
    if page.elsewhere:
        lines += ["Also exported here, documented where first listed:", ""]
        lines += [f"* ``{page.module}.{name}``: :obj:`{target}`" for name, target in
                  page.elsewhere]
        lines.append("")
    return "\n".join(lines)


def write_pages(out_dir: Path) -> list[str]:
    """Write ``modules/<module>.rst`` pages and ``user.inc`` / ``internals.inc`` index
    fragments into ``out_dir``; return every documented full name."""
    user, internal = pages()
    (out_dir / "modules").mkdir(parents=True, exist_ok=True)
    documented = []
    for group, items in (("user", user), ("internals", internal)):
        toc = [".. toctree::", "   :maxdepth: 1", ""]
        for page in items:
            path = out_dir / "modules" / f"{page.module}.rst"
            text = page_rst(page)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")   # unchanged files keep Sphinx's cache
            toc.append(f"   generated/modules/{page.module}")
            documented += [f"{page.module}.{n}" for n in page.documented]
        # .inc, not .rst: included by api/index.rst, not a page of its own.
        (out_dir / f"{group}.inc").write_text("\n".join(toc) + "\n", encoding="utf-8")
    return documented
