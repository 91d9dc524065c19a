"""The generated documentation pages cannot leave a member out (issue 22), checked without
running Sphinx (``make docs`` is not part of ``make test``):

* "Why did my fit fail?" (docs/_ext/failure_catalog.py) has an entry for every
  ``StopReason`` member, every finding code the diagnosis can emit, and every
  ``fit_batch`` diagnosis, and each entry's example triggers what its section describes;
* the API reference (docs/_ext/api_pages.py) documents every name of ``trustfit.__all__``
  and of each public module's ``__all__``;
* the link checker (docs/check_links.py) finds a broken link.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import trustfit
from trustfit import StopReason

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


catalog = _load("failure_catalog", DOCS / "_ext" / "failure_catalog.py")
api_pages = _load("api_pages", DOCS / "_ext" / "api_pages.py")
check_links = _load("check_links", DOCS / "check_links.py")


def test_every_stop_reason_and_finding_has_an_entry():
    assert catalog.coverage_errors() == []
    assert set(catalog.STOP_REASONS) == {m.name for m in StopReason}
    # The finding codes are read from the source; the ones the README lists must be there,
    # so that the scan itself cannot silently find nothing.
    assert {"rank_deficient", "ill_conditioned", "exchangeable_parameters",
            "parameter_not_moved", "not_stationary", "bad_start", "at_bound",
            "large_residual", "dataset_misfit", "dataset_disagrees",
            "dataset_does_not_constrain", "dataset_undetermined"} <= set(catalog.finding_codes())
    from trustfit.batch import DIAGNOSES
    assert set(catalog.BATCH_DIAGNOSES) == set(DIAGNOSES.values())


def test_a_missing_member_is_refused(monkeypatch):
    entries = dict(catalog.STOP_REASONS)
    del entries["STALLED"]
    monkeypatch.setattr(catalog, "STOP_REASONS", entries)
    assert catalog.coverage_errors() == [
        "StopReason 'STALLED' has no entry in docs/_ext/failure_catalog.py"]
    with pytest.raises(ValueError, match="STALLED"):
        catalog.render()
    monkeypatch.setattr(catalog, "FINDINGS", {**catalog.FINDINGS, "no_such_code": None})
    assert "the catalog's finding code 'no_such_code' is not in trustfit" in \
        catalog.coverage_errors()


@pytest.mark.parametrize("kind, member", [
    *(("stop", m) for m in catalog.STOP_REASONS),
    *(("finding", c) for c in catalog.FINDINGS),
    *(("batch", d) for d in catalog.BATCH_DIAGNOSES)])
def test_each_example_triggers_its_member(kind, member):
    entries = {"stop": catalog.STOP_REASONS, "finding": catalog.FINDINGS,
               "batch": catalog.BATCH_DIAGNOSES}[kind]
    got = catalog.check_example(kind, member, entries[member])
    assert got.text  # the page shows what the example printed and found


def test_an_example_that_misses_its_member_is_refused():
    wrong = catalog.Entry("m", "t", catalog.STOP_REASONS["GRADIENT"].example)
    with pytest.raises(AssertionError, match="DEGENERATE"):
        catalog.check_example("stop", "DEGENERATE", wrong)


def test_every_public_name_has_a_reference_entry():
    user, internal = api_pages.pages()
    documented = {f"{p.module}.{n}" for p in user + internal for n in p.documented}
    listed = {f"{p.module}.{n}" for p in user + internal
              for n in [*p.documented, *(e for e, _ in p.elsewhere),
                        *(a for a, _ in p.aliases)]}
    for name in [*trustfit.__all__, "odr", "ODRResult", "Model", "Parameters", "Parameter"]:
        obj = getattr(trustfit, name)
        assert any(getattr(sys.modules[m.rsplit(".", 1)[0]], m.rsplit(".", 1)[1], None)
                   is obj for m in documented), name
    for page in user + internal:
        module = sys.modules[page.module]
        for name in getattr(module, "__all__", []):
            assert f"{page.module}.{name}" in listed, (page.module, name)
    # the results fit_batch returns for counts and for errors in x (classes of private
    # modules, so no __all__ lists them)
    from trustfit.batch._odr import OdrBatchResult
    from trustfit.batch._poisson import PoissonBatchResult
    for cls in (PoissonBatchResult, OdrBatchResult):
        assert f"{cls.__module__}.{cls.__name__}" in documented, cls
    # every other non-private module with an __all__ is on a page
    modules = {p.module for p in user + internal}
    assert {"trustfit", "trustfit.models", "trustfit.batch", "trustfit.plots",
            "trustfit.reference", "trustfit.cli", "trustfit.steps",
            "trustfit.strategies.profile"} <= modules


def test_the_link_checker_finds_a_broken_link(tmp_path):
    (tmp_path / "index.html").write_text(
        '<a href="page.html#here">ok</a> <a href="page.html#gone">gone</a> '
        '<a href="missing.html">missing</a> <a href="https://example.org/x">external</a>')
    (tmp_path / "page.html").write_text('<h1 id="here">Here</h1><img src="img/a.png">')
    broken, pages, links = check_links.broken_links(tmp_path)
    assert pages == 2 and links == 4
    assert broken == ["index.html: page.html#gone (no anchor #gone)",
                      "index.html: missing.html (no such file)",
                      "page.html: img/a.png (no such file)"]


def test_getting_started_code_runs(capsys):
    """The Python blocks of docs/getting_started.rst, in order, in one namespace (the page
    is static text; this keeps it true to the API)."""
    import re
    import textwrap

    text = (DOCS / "getting_started.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    assert len(blocks) == 3
    namespace: dict = {}
    exec(compile("\n".join(textwrap.dedent(b) for b in blocks), "getting_started", "exec"),
         namespace)
    assert namespace["result"].success and namespace["out"].success
    assert abs(namespace["popt"][1] - 1.3) < 0.1
    assert "g1_cen" in capsys.readouterr().out
