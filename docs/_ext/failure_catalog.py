"""The "Why did my fit fail?" page, generated from trustfit's own vocabularies.

Three vocabularies say why a fit ended and what is wrong with it:

* :class:`trustfit.StopReason`, the enum every fit (and every curve of ``fit_batch``) ends
  with;
* the diagnosis' finding codes (``Finding.code``), made by the checks of
  :mod:`trustfit.analysis`; they are strings, so the list is read from the source itself
  (every ``Finding("code", ...)`` / ``finding("code", ...)`` call), the global fit's
  (``dataset_...``, entries in :mod:`failure_global`) among them;
* the per-curve diagnoses of :func:`trustfit.fit_batch` (``trustfit.batch.DIAGNOSES``).

Each member has an :class:`Entry` here: what it means mathematically, what to do, and the
smallest example that triggers it. :func:`render` refuses to produce the page when a member
of any vocabulary has no entry (or an entry names no member), and executes every example,
refusing one that does not trigger what it claims. So a new stop reason or finding cannot
be left out of the documentation: the Sphinx build fails, and so does
``tests/test_docs_catalog.py``, which runs the same checks without Sphinx.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import io
import sys
import re
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One member of a vocabulary: ``meaning`` and ``todo`` are reStructuredText;
    ``example`` is Python that leaves the fit in ``result`` (a ``FitResult``, or a
    ``BatchResult`` whose curve ``curve`` shows the member)."""

    meaning: str
    todo: str
    example: str
    curve: int = 0


_TEXTBOOK = """\
import numpy as np
import trustfit

t = np.arange(0.0, 21.0, 2.0)   # Madsen, Nielsen & Tingleff's two-exponential data
y = np.array([0, 3.55, 3.82, 2.98, 2.32, 1.48, 1.02, 0.81, 0.41, 0.42, 0.15])

def residuals(x):
    return x[2] * np.exp(x[0] * t) + x[3] * np.exp(x[1] * t) - y
"""

_SMALL = """\
import numpy as np
import trustfit

t = np.linspace(0.0, 1.0, 5)
y = np.array([1.01, 1.48, 2.015, 2.5, 2.99])
"""

_KINK = """\
import numpy as np
import trustfit

def residuals(x):              # |x| + 1: its minimum is a kink at x = 0 ...
    return np.array([abs(x[0]) + 1.0])

def wrong_jacobian(x):         # ... and this Jacobian claims slope 1 everywhere
    return np.array([[1.0]])
"""

_BATCH = """\
import numpy as np
import trustfit

t = np.linspace(0.0, 5.0, 64)
rng = np.random.default_rng(1)
y = 2 * np.exp(-0.4 * t) + 1.5 * np.exp(-2 * t) + 0.003 * rng.standard_normal(t.size)
model = "x3*exp(x1*t) + x4*exp(x2*t)"
order = ["x1", "x2", "x3", "x4"]
"""

STOP_REASONS: dict[str, Entry] = {
    "GRADIENT": Entry(
        meaning=(
            "The gradient test fired: the largest cosine between the residual vector "
            ":math:`r` and a column :math:`J_j` of the Jacobian, "
            ":math:`\\max_j |J_j^T r| / (\\|J_j\\| \\|r\\|)`, fell below ``gtol`` (MINPACK's "
            "test; free of the units of the data and of the parameters). The point was then "
            "certified stationary and non-degenerate (:doc:`certified`)."),
        todo="Nothing: the fit converged. Read the standard errors and the findings.",
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * np.exp(p[1] * t) - y,"
                         " [1.0, 0.0],\n                                 gtol=1e-6)\n"),
    "COST": Entry(
        meaning=(
            "The cost test fired: on a trial step, the actual and the predicted reduction of "
            "the cost :math:`F = \\tfrac12\\|r\\|^2` were both below ``ftol`` times "
            ":math:`F` (MINPACK's relative test), and the point was certified."),
        todo="Nothing: the fit converged.",
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * np.exp(p[1] * t) - y,"
                         " [1.0, 0.0],\n                                 ftol=1e-6,"
                         " rounding_stop=False)\n"),
    "STEP": Entry(
        meaning=(
            "The step test fired: every component of the step was below ``xtol`` relative to "
            "the size of its parameter, :math:`|h_j| \\le \\mathrm{xtol}\\,|x_j|` (Dennis & "
            "Schnabel eq. 7.2.5, per parameter, so unit-free), and the point was certified."),
        todo="Nothing: the fit converged.",
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * np.exp(p[1] * t) - y,"
                         " [1.0, 0.0],\n                                 xtol=1e-6)\n"),
    "ROUNDING": Entry(
        meaning=(
            "The cost reached its rounding level: a step whose local model promised a "
            "relative gain below 1e-10 changed the cost by rounding noise only, so no further "
            "digit can be gained. trustfit's default tolerances (1e-15) end most fits here, "
            "and the point was certified."),
        todo="Nothing: the fit converged as far as double precision allows.",
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * np.exp(p[1] * t) - y,"
                         " [1.0, 0.0])\n"),
    "MAX_NFEV": Entry(
        meaning=(
            "The evaluation budget ``max_nfev`` was used up before any convergence test "
            "fired. ``max_nfev`` is a hard cap over everything the call does (polish, "
            "fallback, rescue). The returned point is the best one found, not a minimum."),
        todo=(
            "Raise ``max_nfev``, give an analytic Jacobian (``jac=``) to save evaluations, "
            "or start closer (a library model's ``guess``). If the cost still creeps, read "
            "the findings: a flat valley (``ill_conditioned``) or a large residual."),
        example=_TEXTBOOK + "\nresult = trustfit.least_squares(residuals, [-1, 1, -10, 10],"
                            " max_nfev=5,\n                                 method='lm')\n"),
    "MAX_ITER": Entry(
        meaning="The iteration budget ``max_iter`` was used up; the best point is returned.",
        todo="Raise ``max_iter``, or look at the convergence plot for a slow phase.",
        example=_TEXTBOOK + "\nresult = trustfit.least_squares(residuals, [-1, 1, -10, 10],"
                            " max_iter=3,\n                                 method='lm')\n"),
    "CALLBACK": Entry(
        meaning=(
            "Your ``callback`` asked to stop (it raised ``StopIteration`` or returned "
            "``True``), SciPy's status -2."),
        todo="Intended by you; the returned point is the last accepted iterate.",
        example=_TEXTBOOK + """
def stop_now(intermediate_result):
    raise StopIteration

result = trustfit.least_squares(residuals, [-1, 1, -10, 10], callback=stop_now)
"""),
    "LINE_SEARCH_FAILED": Entry(
        meaning=(
            "Gauss-Newton (``method='gn'``) with Armijo backtracking found no step length "
            "along the search direction that decreased the cost. Near a smooth minimum the "
            "Gauss-Newton direction is a descent direction, so this points at a Jacobian that "
            "does not match the residuals, or at residuals that are not smooth."),
        todo=(
            "Check your ``jac`` against finite differences (leave ``jac`` out), make the "
            "residuals smooth, or use a trust-region method (the default ``'auto'``)."),
        example=_KINK + "\nresult = trustfit.least_squares(residuals, [0.0], jac=wrong_jacobian,"
                        " method='gn',\n                                 rescue=False)\n"),
    "NO_PROGRESS": Entry(
        meaning=(
            "The Levenberg-Marquardt damping :math:`\\mu` grew (or the trust region shrank) "
            "to its limit without finding a step that lowered the cost. The local linear "
            "model of the residuals is wrong everywhere near the point."),
        todo=(
            "As for ``LINE_SEARCH_FAILED``: check the Jacobian, the smoothness of the "
            "residuals, and that they are deterministic (no random numbers inside)."),
        example=_KINK + "\nresult = trustfit.least_squares(residuals, [0.0], jac=wrong_jacobian,"
                        " method='lm',\n                                 rescue=False, xtol=None,"
                        " ftol=None, rounding_stop=False)\n"),
    "STALLED": Entry(
        meaning=(
            "A stopping test fired, but the point is not stationary: the residual keeps a "
            "share :math:`\\|P_J r\\| / \\|r\\|` above the certificate's limit in the range of "
            "the Jacobian, so a Gauss-Newton step would still lower the cost. The step was cut "
            "short by the damping (or a loose ``xtol``), not by convergence. SciPy reports "
            "such points as a success."),
        todo=(
            "Keep the default ``rescue=True`` (restarts from seeded perturbations), tighten "
            "``xtol``/``ftol``, or try ``method='hybrid'`` for a slow, large-residual valley."),
        example=_TEXTBOOK + "\nresult = trustfit.least_squares(residuals, [-1, 1, -10, 10],"
                            " method='lm', xtol=1e-2,\n"
                            "                                 rescue=False)\n"),
    "DEGENERATE": Entry(
        meaning=(
            "A stopping test fired at a point where the parameters are not determined: the "
            "column-scaled Jacobian has a condition number above :math:`1/\\sqrt{\\epsilon}` "
            "(6.7e7) or a zero column. Some combination of parameters can change without "
            "changing the fit (a product ``a*b``, a saturated model, or the symmetric point "
            "of a sum of exchangeable terms)."),
        todo=(
            "Read the findings: they name the combination. Fix or remove one parameter of "
            "it, reparametrise, or start elsewhere (``rescue=True`` restarts at symmetric "
            "points by itself)."),
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * p[1] * t - y,"
                         " [1.0, 1.0], rescue=False)\n"),
    "INVALID_INPUT": Entry(
        meaning=(
            "A curve of :func:`trustfit.fit_batch` that could not be fitted: NaN or inf in "
            "its data, sigma, x or start, or a model that is not finite at the start. Its "
            "parameters are NaN and the other curves are untouched. (A single fit raises a "
            "``ValueError`` instead.)"),
        todo="Clean or mask that row (``result.diagnosis`` says which of data and start).",
        example=_BATCH + """
Y = np.vstack([y, y])
Y[1, 10] = np.nan                    # one missing point in curve 1
result = trustfit.fit_batch(model, t, Y, [-1, -0.1, 1, 1], params=order, backend="numpy")
""", curve=1),
}

FINDINGS: dict[str, Entry] = {
    "rank_deficient": Entry(
        meaning=(
            "The Jacobian's numerical rank (singular values above "
            ":math:`\\epsilon \\max(m, n)` times the largest) is below the number of "
            "parameters: a direction in parameter space (the null space, named in the "
            "message) changes nothing. The covariance is then a flagged pseudo-inverse "
            "(:doc:`certified`)."),
        todo=(
            "Only the named combination is determined: fix one of its parameters, or "
            "reparametrise (``a*b`` as one parameter)."),
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * p[1] * t - y,"
                         " [1.0, 1.0], rescue=False)\n"),
    "ill_conditioned": Entry(
        meaning=(
            "Full rank, but the column-scaled Jacobian's condition number exceeds "
            ":math:`1/\\sqrt{\\epsilon}`: about half the 16 digits are lost in the solution "
            "and its covariance."),
        todo="Centre the independent variable, or fit differences or logs of parameters.",
        example="""\
import numpy as np
import trustfit

u = np.linspace(-1, 1, 7)

def residuals(p):             # two nearly identical columns: 1 and 1 + 1e-9 u
    return p[0] + p[1] * (1 + 1e-9 * u) - (2 + 1e-9 * u)

result = trustfit.least_squares(residuals, [1.0, 0.0],
                                jac=lambda p: np.column_stack([np.ones(7), 1 + 1e-9 * u]))
"""),
    "exchangeable_parameters": Entry(
        meaning=(
            "Two Jacobian columns are equal up to sign (cosine within 1e-4, norms within a "
            "factor 1.1): swapping the two parameters leaves the linearised model unchanged. "
            "The textbook's start ``[0, 0, 0, 0]`` is such a symmetric point, where the two "
            "exponentials are the same function and Gauss-Newton-type methods stall."),
        todo=(
            "Start where the parameters differ (``rescue=True``, the default, does it), or, "
            "if the model is symmetric in them, order them with bounds."),
        example=_TEXTBOOK + "\nresult = trustfit.least_squares(residuals, [0, 0, 0, 0],"
                            " rescue=False)\n"),
    "parameter_not_moved": Entry(
        meaning=(
            "A Jacobian column is zero (within 100 times the Jacobian's own error): the "
            "residuals do not depend on that parameter at the solution. A typo in the model, "
            "or a term switched off (an amplitude at 0, a rate that saturates)."),
        todo="Check the model uses the parameter; fix or remove it.",
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * t - y, [1.0, 1.0],"
                         " rescue=False)\n"),
    "not_stationary": Entry(
        meaning=(
            "The fit stopped, but a Gauss-Newton step from there would still remove more than "
            "1e-4 of the cost (:math:`\\|P_J r\\|^2 / \\|r\\|^2`, Bates & Watts' relative "
            "offset): the point is not a minimum. The finding behind ``STALLED``."),
        todo="As for ``STALLED``.",
        example=_TEXTBOOK + "\nresult = trustfit.least_squares(residuals, [-1, 1, -10, 10],"
                            " method='lm', xtol=1e-2,\n"
                            "                                 rescue=False)\n"),
    "bad_start": Entry(
        meaning=(
            "At least half (and at least 3) of the trial steps gave non-finite residuals "
            "(overflow, a square root or log of a negative number), or no step from the start "
            "was ever accepted: the start lies where the model blows up or is flat."),
        todo="Start closer (a library model's ``guess``), or bound the parameters away from "
             "the region where the model is not defined.",
        example="""\
import numpy as np
import trustfit

t = np.linspace(0.0, 10.0, 8)
y = np.exp(-0.5 * t)

def residuals(p):              # not defined (NaN) where p < t
    with np.errstate(invalid="ignore"):
        return np.sqrt(p[0] - t) - y

result = trustfit.least_squares(residuals, [10.5], rescue=False)
"""),
    "line_search_failed": Entry(
        meaning="The stop reason is ``LINE_SEARCH_FAILED`` (above).",
        todo="As for ``LINE_SEARCH_FAILED``.",
        example=_KINK + "\nresult = trustfit.least_squares(residuals, [0.0], jac=wrong_jacobian,"
                        " method='gn',\n                                 rescue=False)\n"),
    "no_progress": Entry(
        meaning="The stop reason is ``NO_PROGRESS`` (above).",
        todo="As for ``NO_PROGRESS``.",
        example=_KINK + "\nresult = trustfit.least_squares(residuals, [0.0], jac=wrong_jacobian,"
                        " method='lm',\n                                 rescue=False, xtol=None,"
                        " ftol=None, rounding_stop=False)\n"),
    "budget_exhausted": Entry(
        meaning="The stop reason is ``MAX_NFEV`` or ``MAX_ITER`` (above).",
        todo="As for ``MAX_NFEV``.",
        example=_TEXTBOOK + "\nresult = trustfit.least_squares(residuals, [-1, 1, -10, 10],"
                            " max_nfev=5,\n                                 method='lm')\n"),
    "at_bound": Entry(
        meaning=(
            "A parameter ends on a bound (``active_mask != 0``): the bound, not the data, "
            "decides its value, and its standard error describes the unconstrained fit."),
        todo="Intended bounds are fine; otherwise widen them or question the model.",
        example=_SMALL + "\nresult = trustfit.least_squares(lambda p: p[0] * t + p[1] - y,"
                         " [0.0, 0.0],\n                                 bounds=([0, 0],"
                         " [1, 10]))\n"),
    "large_residual": Entry(
        meaning=(
            "The last 6 steps shrank only by a factor of at least 0.5 each (linear "
            "convergence) while the residuals stay large: the Gauss-Newton model misses the "
            "second-order term :math:`\\sum_i r_i \\nabla^2 r_i` of the Hessian (Madsen, "
            "Nielsen & Tingleff, Example 3.4)."),
        todo="Use ``method='hybrid'`` (Madsen's LM / quasi-Newton hybrid), which converges "
             "superlinearly there.",
        example="""\
import numpy as np
import trustfit

def residuals(x):       # Madsen, Nielsen & Tingleff, Example 3.4 with lambda = 0.7
    return np.array([x[0] + 1, 0.7 * x[0] ** 2 + x[0] - 1])

def jacobian(x):
    return np.array([[1.0], [1.4 * x[0] + 1]])

result = trustfit.least_squares(residuals, [1.0], jac=jacobian, method="lm")
"""),
    "iterative_diagnosis": Entry(
        meaning=(
            "Information: the Jacobian is a sparse matrix or a ``LinearOperator``, so the "
            "diagnosis used iterative estimates (LSMR condition estimate, LSQR projection) "
            "instead of a dense SVD; an undetermined combination is reported, not named."),
        todo="Nothing; for a named combination fit a smaller sub-problem with a dense "
             "Jacobian.",
        example="""\
import numpy as np
import scipy.sparse
import trustfit

target = np.arange(30.0)
result = trustfit.least_squares(lambda p: p - target, np.zeros(30),
                                jac=lambda p: scipy.sparse.identity(30, format="csr"))
"""),
}



def _sibling(name: str):
    """A module of this folder (``docs/_ext``), also when this file is loaded by path (the
    tests) rather than from Sphinx's ``sys.path``."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(
            f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# The findings of trustfit.fit_global, kept in failure_global.py.
FINDINGS.update({code: Entry(**fields) for code, fields in
                 _sibling("failure_global").GLOBAL_FINDINGS.items()})

BATCH_DIAGNOSES: dict[str, Entry] = {
    "converged": Entry(
        meaning="The curve's fit is certified, as a single fit's ``success``.",
        todo="Nothing.",
        example=_BATCH + "\nresult = trustfit.fit_batch(model, t, y[None, :], [-1, -0.1, 1, 1],"
                         " params=order,\n                            backend=\"numpy\")\n"),
    "rescued": Entry(
        meaning=(
            "A restart reached a lower cost than the curve's first fit and was certified. "
            "Restarts are tried from deterministic perturbed starts when the first fit "
            "stalled (here at the symmetric start ``x1 = x2``), and also when it was "
            "certified with a parameter whose standard error exceeds its size (a "
            "stationary point, possibly a local minimum: the curve is refitted one standard "
            "deviation either way along its least determined combination of parameters); "
            "the lower cost wins. The starts depend only on the curve's own numbers, so "
            "the result does not depend on the chunking."),
        todo="Nothing; ``result.rescued`` flags these curves.",
        example=_BATCH + "\nresult = trustfit.fit_batch(model, t, y[None, :], [-1, -1, 1, 1],"
                         " params=order,\n                            backend=\"numpy\")\n"),
    "degenerate": Entry(
        meaning="The curve ended ``DEGENERATE`` (above), and no rescue restart did better.",
        todo="As for ``DEGENERATE``: the model has more freedom than this curve's data.",
        example="""\
import numpy as np
import trustfit

t = np.linspace(0.0, 4.0, 20)
y = 2 * t + 0.01 * np.sin(7 * t)
result = trustfit.fit_batch("a*b*t", t, y[None, :], [1.0, 1.0], backend="numpy")
"""),
    "not_converged": Entry(
        meaning="The curve hit the iteration budget (``MAX_ITER``) or ran out of damping "
                "(``NO_PROGRESS``).",
        todo="Raise ``maxiter``; give better starts (per-curve ``p0`` as an ``(N, n)`` array).",
        example=_BATCH + "\nresult = trustfit.fit_batch(model, t, y[None, :], [-1, -0.1, 1, 1],"
                         " params=order,\n                            backend=\"numpy\","
                         " maxiter=2)\n"),
    "invalid_data": Entry(
        meaning="NaN or inf in the curve's data, sigma or x: not fitted (``INVALID_INPUT``).",
        todo="Clean or mask the row.",
        example=_BATCH + """
Y = np.vstack([y, y])
Y[1, 10] = np.nan
result = trustfit.fit_batch(model, t, Y, [-1, -0.1, 1, 1], params=order, backend="numpy")
""", curve=1),
    "invalid_start": Entry(
        meaning="NaN or inf in the curve's start, or a model not finite there: not fitted "
                "(``INVALID_INPUT``).",
        todo="Give that curve a finite start where the model is defined.",
        example=_BATCH + """
p0 = np.array([[-1, -0.1, 1, 1], [np.nan, -0.1, 1, 1]])
result = trustfit.fit_batch(model, t, np.vstack([y, y]), p0, params=order, backend="numpy")
""", curve=1),
}


# --- the vocabularies, read from trustfit -------------------------------------------------
def stop_reason_names() -> list[str]:
    from trustfit import StopReason

    return [m.name for m in StopReason]


@functools.lru_cache(maxsize=1)
def _finding_codes() -> tuple[str, ...]:
    """Every finding code trustfit can emit: the first argument of each ``Finding(...)`` or
    ``finding(...)`` call in the package's source (the codes are strings, not an enum)."""
    import trustfit

    codes: set[str] = set()
    for path in Path(trustfit.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in ("Finding", "finding") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                codes.add(first.value)
    return tuple(sorted(codes))


def finding_codes() -> list[str]:
    """Every finding code trustfit can emit (the source is read once per process)."""
    return list(_finding_codes())


def batch_diagnosis_names() -> list[str]:
    from trustfit.batch import DIAGNOSES

    return [DIAGNOSES[k] for k in sorted(DIAGNOSES)]


def coverage_errors() -> list[str]:
    """Members without an entry and entries without a member, for every vocabulary."""
    errors = []
    for what, members, entries in (("StopReason", stop_reason_names(), STOP_REASONS),
                                   ("finding code", finding_codes(), FINDINGS),
                                   ("fit_batch diagnosis", batch_diagnosis_names(),
                                    BATCH_DIAGNOSES)):
        errors += [f"{what} {m!r} has no entry in docs/_ext/failure_catalog.py"
                   for m in members if m not in entries]
        errors += [f"the catalog's {what} {e!r} is not in trustfit" for e in entries
                   if e not in members]
    return errors


# --- running the examples -----------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    stop_reason: str
    codes: tuple[str, ...]
    text: str


def run_example(entry: Entry) -> Outcome:
    """Execute the example; return what it triggered and the text shown under it."""
    namespace: dict = {"__name__": "__failure_example__"}
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        exec(compile(entry.example, "<failure example>", "exec"), namespace)
    result = namespace["result"]
    lines = [out.getvalue().rstrip()] if out.getvalue().strip() else []
    lines += [f"{w.category.__name__}: {w.message}" for w in caught
              if w.category.__module__.startswith("trustfit")]
    if hasattr(result, "diagnosis_code"):             # a BatchResult
        i = entry.curve
        reason = result.stop_reason[i].name
        codes = (str(result.diagnosis[i]),)
        lines += [f"curve {i}: stop_reason {reason}, success {bool(result.success[i])}, "
                  f"diagnosis {codes[0]!r}, rescued {bool(result.rescued[i])}",
                  f"  params {result.params[i]}, cost {result.cost[i]:.6g}"]
    else:
        import trustfit

        reason = result.stop_reason.name
        # a GlobalFitResult carries its diagnosis (per data set); the others are diagnosed
        diagnosis = result.diagnosis if isinstance(result, trustfit.GlobalFitResult) \
            else trustfit.diagnose(result)
        codes = diagnosis.codes
        lines += [f"stop_reason: {reason}   success: {result.success}   "
                  f"nit: {result.nit}   nfev: {result.nfev}",
                  *textwrap.wrap(f"message: {result.message}", 88, subsequent_indent="  "),
                  "findings:" if len(diagnosis) else "findings: none"]
        for f in diagnosis:
            lines += textwrap.wrap(f"[{f.severity}] {f.code}: {f.message}", 88,
                                   initial_indent="  ", subsequent_indent="    ")
    return Outcome(reason, tuple(codes), "\n".join(lines))


def check_example(kind: str, member: str, entry: Entry) -> Outcome:
    """Run an entry's example and raise AssertionError unless it triggers ``member``."""
    got = run_example(entry)
    hit = got.stop_reason == member if kind == "stop" else member in got.codes
    if not hit:
        raise AssertionError(f"the example for {kind} {member!r} gave stop reason "
                             f"{got.stop_reason} and {got.codes}:\n{got.text}")
    return got


# --- the page -----------------------------------------------------------------------------
def _section(title: str, label: str, underline: str, entry: Entry, outcome: Outcome,
             header: str = "") -> list[str]:
    code = textwrap.indent(entry.example.rstrip(), "   ")
    shown = textwrap.indent(outcome.text, "   ")
    return [f".. _{label}:", "", title, underline * len(title), "", *([header, ""] if header
                                                                   else []),
            f"**Meaning.** {entry.meaning}", "", f"**What to do.** {entry.todo}", "",
            "**Smallest example** (executed when this page was built):", "",
            ".. code-block:: python", "", code, "", "Output:", "",
            ".. code-block:: text", "", shown, ""]


def label(kind: str, member: str) -> str:
    """The reference label of a member's section, e.g. ``stop-degenerate``."""
    return f"{kind}-{member.lower().replace('_', '-')}"


def render() -> str:
    """The body of the page (reStructuredText): every member of every vocabulary, each
    example executed and checked. Raises ``ValueError`` for a missing or stale entry."""
    from trustfit import StopReason

    errors = coverage_errors()
    if errors:
        raise ValueError("the failure catalog is incomplete:\n  " + "\n  ".join(errors))
    lines = ["Stop reasons", "------------", "",
             "Every fit ends with a :class:`trustfit.StopReason` in ``result.stop_reason`` "
             "(with SciPy's integer in ``result.status``). Only the *converged* ones set "
             "``success``.", "",
             ".. list-table::", "   :header-rows: 1", "",
             "   * - reason", "     - status", "     - converged (``success``)",
             "     - usable (best point returned)"]
    for m in StopReason:
        lines += [f"   * - :ref:`{m.name} <{label('stop', m.name)}>`", f"     - {m.status}",
                  f"     - {'yes' if m.converged else 'no'}", f"     - {'yes' if m.usable else 'no'}"]
    lines.append("")
    for m in StopReason:
        entry = STOP_REASONS[m.name]
        message = re.sub(r"\{value[^}]*\}", "…", m.template)
        header = f"``status = {m.status}``. The message: *{message}*"
        lines += _section(m.name, label("stop", m.name), "~", entry,
                          check_example("stop", m.name, entry), header)
    lines += ["Findings of the diagnosis", "-------------------------", "",
              ":func:`trustfit.diagnose` (and ``result.report()``) lists findings, each with a "
              "``code``, a ``severity`` (``error``: the answer is wrong or undetermined; "
              "``warning``: use with care; ``info``), the parameters involved, the measured "
              "value against its threshold, and advice. The cutoffs are those of "
              ":mod:`trustfit.analysis.diagnostics`; the ``dataset_...`` findings are a "
              "global fit's (:func:`trustfit.fit_global`, ``result.diagnosis``), about its "
              "data sets, with the cutoffs of :mod:`trustfit.kinds.global_checks`.", ""]
    lines += [", ".join(f":ref:`{c} <{label('finding', c)}>`" for c in finding_codes()), ""]
    for code in finding_codes():
        entry = FINDINGS[code]
        lines += _section(code, label("finding", code), "~", entry,
                          check_example("finding", code, entry))
    lines += ["Diagnoses of a batch curve", "--------------------------", "",
              ":func:`trustfit.fit_batch` gives each curve a diagnosis in "
              "``result.diagnosis`` (and the codes in ``trustfit.batch.DIAGNOSES``) beside "
              "its stop reason.", ""]
    for name in batch_diagnosis_names():
        entry = BATCH_DIAGNOSES[name]
        lines += _section(name, label("batch", name), "~", entry,
                          check_example("batch", name, entry))
    return "\n".join(lines) + "\n"
