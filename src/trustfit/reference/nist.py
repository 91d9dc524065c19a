"""The NIST StRD nonlinear regression problems: parser, problem objects, LRE.

NIST's Statistical Reference Datasets (StRD, https://www.itl.nist.gov/div898/strd/)
give 27 nonlinear least-squares problems, each with two starting vectors
(start 1 far from the solution, start 2 near it) and parameters certified to
11 significant digits.  The files ship in ``trustfit/data/nist/`` and are read
through :mod:`importlib.resources`, so this works from an installed wheel.

File layout (fixed; the header states the line ranges, 1-based)::

    Starting Values   (lines A to B)     -> rows "b1 = start1 start2 certified sd"
    Certified Values  (lines A to E)     -> the rows above, then RSS, residual SD,
                                            degrees of freedom, number of obs.
    Data              (lines C to D)     -> "y x" (Nelson: "y x1 x2")

Example::

    >>> from trustfit.reference import nist
    >>> p = nist.load("Misra1a")
    >>> r = p.residuals(p.certified)          # model(b, x) - y
    >>> float(r @ r)                          # ~ p.certified_rss
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources

import numpy as np

from .nist_models import MODELS, ModelPair

__all__ = ["NistProblem", "PROBLEMS", "DIFFICULTY", "load", "load_all", "lre", "parse",
           "LRE_MAX"]

#: NIST certifies 11 significant digits, so an LRE above 11 is not meaningful:
#: :func:`lre` clips to this value (an exact match scores 11).
LRE_MAX = 11.0

#: Difficulty as stated in the files, in the order of the NIST table
#: (lower, average, higher; within a group as NIST lists them).  load_all()
#: returns the problems in this order.
DIFFICULTY: dict[str, str] = {
    **dict.fromkeys(("Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2",
                     "DanWood", "Misra1b"), "lower"),
    **dict.fromkeys(("Kirby2", "Hahn1", "Nelson", "MGH17", "Lanczos1", "Lanczos2",
                     "Gauss3", "Misra1c", "Misra1d", "Roszman1", "ENSO"), "average"),
    **dict.fromkeys(("MGH09", "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4",
                     "Rat43", "Bennett5"), "higher"),
}
PROBLEMS: tuple[str, ...] = tuple(DIFFICULTY)

# Problems whose response column is transformed before fitting.  Nelson's
# model line reads "log[y] = b1 - b2*x1 * exp[-b3*x2]" while the data column
# holds y itself (15.00, 17.00, ...): the residual is model - log(y).
_LOG_RESPONSE = frozenset({"Nelson"})


@dataclass(frozen=True, eq=False)
class NistProblem:
    """One NIST StRD nonlinear regression problem.

    Arrays are read-only.  ``y`` is the response column exactly as in the file;
    :attr:`response` is what the model predicts (``log(y)`` for Nelson).
    The certified numbers are the file's.  ``dof`` is as the file states it:
    Rat43.dat says 9, although n_obs - n_params = 11 and its certified
    residual SD is sqrt(RSS/11).
    """

    name: str
    difficulty: str            # "lower", "average" or "higher"
    model_text: str            # the formula line(s) of the file's Model block
    x: np.ndarray              # (m,), or (m, 2) for Nelson
    y: np.ndarray              # (m,)
    starts: np.ndarray         # (2, n): row 0 = start 1 (far), row 1 = start 2 (near)
    certified: np.ndarray      # (n,)
    certified_sd: np.ndarray   # (n,)
    certified_rss: float
    residual_sd: float
    dof: int
    n_obs: int
    _pair: ModelPair = field(repr=False)

    @property
    def n_params(self) -> int:
        return self.certified.shape[0]

    @cached_property
    def response(self) -> np.ndarray:
        """The fitted response (read-only): ``log(y)`` for Nelson, else ``y``."""
        if self.name not in _LOG_RESPONSE:
            return self.y
        out = np.log(self.y)
        out.setflags(write=False)
        return out

    def model(self, b, x=None) -> np.ndarray:
        """Model values f(x; b), shape (m,).  ``b`` may be complex; ``x`` defaults
        to the problem's data."""
        return self._pair[0](self._params(b), self.x if x is None else np.asarray(x))

    def jacobian(self, b, x=None) -> np.ndarray:
        """Analytic Jacobian d f(x_i; b) / d b_j, shape (m, n)."""
        return self._pair[1](self._params(b), self.x if x is None else np.asarray(x))

    def residuals(self, b) -> np.ndarray:
        """``model(b, x) - response``, shape (m,); RSS = sum of squares."""
        return self.model(b) - self.response

    def residual_jacobian(self, b) -> np.ndarray:
        """Jacobian of :meth:`residuals`, the same as :meth:`jacobian` (the
        response does not depend on b)."""
        return self.jacobian(b)

    def _params(self, b) -> np.ndarray:
        b = np.asarray(b)
        if b.shape != (self.n_params,):
            raise ValueError(f"b: {self.name} has {self.n_params} parameters, "
                             f"got an array of shape {b.shape}")
        return b


# --- parsing -----------------------------------------------------------------
_RANGE = r"\(lines\s+(\d+)\s+to\s+(\d+)\)"
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


def _search(pattern: str, text: str, what: str, source: str) -> re.Match:
    m = re.search(pattern, text)
    if m is None:
        raise ValueError(f"{source}: cannot find {what} (pattern {pattern!r})")
    return m


def parse(text: str, name: str) -> NistProblem:
    """Parse the text of a NIST StRD nonlinear ``.dat`` file.

    ``name`` selects the model (a key of :data:`PROBLEMS`).  Every count the
    header states is checked against what was read; a mismatch raises
    ValueError naming the file.
    """
    if name not in MODELS:
        raise ValueError(f"name: unknown NIST problem {name!r}; known: {', '.join(PROBLEMS)}")
    src = f"{name}.dat"
    lines = text.splitlines()  # handles the files' CRLF endings

    s0, s1 = map(int, _search(r"Starting Values\s*" + _RANGE, text, "starting values range",
                              src).groups())
    c0, c1 = map(int, _search(r"Certified Values\s*" + _RANGE, text, "certified range",
                              src).groups())
    if c0 != s0:
        raise ValueError(f"{src}: certified values start on line {c0}, the parameter rows "
                         f"on line {s0}; they must share the rows")
    d0, d1 = map(int, _search(r"Data\s*" + _RANGE, text, "data range", src).groups())
    n_params = int(_search(r"(\d+)\s+Parameters", text, "parameter count", src).group(1))
    n_obs_hdr = int(_search(r"(\d+)\s+Observations", text, "observation count", src).group(1))
    difficulty = _search(r"(Lower|Average|Higher)\s+Level of Difficulty", text,
                         "difficulty", src).group(1).lower()

    # Model block: the lines after "N Parameters" up to the starting-values
    # table heading (Roszman1's block also defines pi there).
    i_par = next(i for i, ln in enumerate(lines) if re.search(r"\d+\s+Parameters", ln))
    model_lines = []
    for ln in lines[i_par + 1:]:
        if re.search(r"Starting\s+values", ln, re.IGNORECASE):
            break
        if ln.strip():
            model_lines.append(ln.strip())
    if not model_lines:
        raise ValueError(f"{src}: empty model block")

    # Parameter rows: "b1 = start1 start2 certified sd".
    rows = []
    for k, ln in enumerate(lines[s0 - 1:s1], start=1):
        m = re.fullmatch(rf"\s*b(\d+)\s*=\s*{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}\s*", ln)
        if m is None or int(m.group(1)) != k:
            raise ValueError(f"{src}: line {s0 + k - 1} is not the row of b{k}: {ln!r}")
        rows.append([float(v) for v in m.groups()[1:]])
    table = np.array(rows)
    if table.shape[0] != n_params:
        raise ValueError(f"{src}: header says {n_params} parameters, "
                         f"lines {s0}..{s1} hold {table.shape[0]}")

    stats_text = "\n".join(lines[s1:c1])
    rss = float(_search(r"Residual Sum of Squares:\s*" + _NUM, stats_text, "RSS", src).group(1))
    rsd = float(_search(r"Residual Standard Deviation:\s*" + _NUM, stats_text,
                        "residual SD", src).group(1))
    dof = int(_search(r"Degrees of Freedom:\s*(\d+)", stats_text, "dof", src).group(1))
    n_obs = int(_search(r"Number of Observations:\s*(\d+)", stats_text, "n obs", src).group(1))

    # Column heading just above the data, e.g. "Data:  y  x" or "Data: y x1 x2".
    heading = lines[d0 - 2].split()
    if len(heading) < 3 or heading[:2] != ["Data:", "y"]:
        raise ValueError(f"{src}: line {d0 - 1} is not the data heading: {lines[d0 - 2]!r}")
    n_cols = len(heading) - 1
    fields = [ln.split() for ln in lines[d0 - 1:d1]]
    for i, f in enumerate(fields):
        if len(f) != n_cols:
            raise ValueError(f"{src}: data line {d0 + i} has {len(f)} columns, the heading "
                             f"names {n_cols}: {lines[d0 - 1 + i]!r}")
    data = np.array(fields, dtype=float).reshape(len(fields), n_cols)
    if not (data.shape[0] == n_obs == n_obs_hdr):
        raise ValueError(f"{src}: {data.shape[0]} data rows, header says {n_obs_hdr}, "
                         f"certified block says {n_obs}")

    x = data[:, 1] if n_cols == 2 else data[:, 1:]
    arrays = dict(x=x, y=data[:, 0], starts=table[:, :2].T, certified=table[:, 2],
                  certified_sd=table[:, 3])
    for key, a in arrays.items():
        arrays[key] = a = a.copy()  # own contiguous memory, then lock it
        a.setflags(write=False)
    return NistProblem(name=name, difficulty=difficulty, model_text="\n".join(model_lines),
                       certified_rss=rss, residual_sd=rsd, dof=dof, n_obs=n_obs,
                       _pair=MODELS[name], **arrays)


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"name: expected a problem name (str), got {name!r}")
    by_lower = {p.lower(): p for p in PROBLEMS}
    try:
        return by_lower[name.lower()]
    except KeyError:
        raise ValueError(f"name: unknown NIST problem {name!r}; "
                         f"known (case-insensitive): {', '.join(PROBLEMS)}") from None


@cache
def _load(name: str) -> NistProblem:
    ref = resources.files("trustfit") / "data" / "nist" / f"{name}.dat"
    return parse(ref.read_bytes().decode("ascii"), name)


def load(name: str) -> NistProblem:
    """Load one problem by name (case-insensitive, e.g. ``"misra1a"``).

    Parsed problems are cached; they are immutable (read-only arrays).
    """
    return _load(_canonical(name))


def load_all() -> list[NistProblem]:
    """All 27 problems in NIST's difficulty-table order (:data:`PROBLEMS`):
    the 8 lower, then the 11 average, then the 8 higher difficulty problems."""
    return [_load(p) for p in PROBLEMS]


# --- scoring -----------------------------------------------------------------
def lre(estimate, certified) -> float:
    """Log relative error: the number of correct significant digits.

    ``LRE = -log10( max_j |b_j - c_j| / |c_j| )``, i.e. the worst component
    decides (McCullough 1998, "Assessing the reliability of statistical
    software", Am. Stat. 52:358).  Where ``c_j == 0`` the absolute error is
    used instead.  The result is clipped to [0, LRE_MAX = 11]: NIST certifies
    11 digits, so an exact match scores 11, and anything with no correct
    digit (including a NaN or infinite estimate) scores 0.

    ``estimate`` and ``certified`` may be scalars (e.g. an RSS) or arrays of the
    same shape.
    """
    est = np.asarray(estimate, dtype=float)
    cert = np.asarray(certified, dtype=float)
    if est.shape != cert.shape:
        raise ValueError(f"estimate: shape {est.shape} must equal the certified shape "
                         f"{cert.shape}")
    if cert.size == 0:
        raise ValueError("certified: must not be empty")
    if not np.all(np.isfinite(cert)):
        raise ValueError(f"certified: must be finite, got {certified!r}")
    if not np.all(np.isfinite(est)):
        return 0.0
    err = np.abs(est - cert)
    rel = np.where(cert != 0, err / np.where(cert != 0, np.abs(cert), 1.0), err)
    worst = float(np.max(rel))
    if worst == 0.0:
        return LRE_MAX
    return min(LRE_MAX, max(0.0, -math.log10(worst)))


#: Parameter changes that leave a NIST model's values unchanged: permutations of
#: interchangeable groups (0-based indices) and sign flips taken together. A fit that
#: reaches the certified minimum's mirror image (MGH17 with its two exponentials swapped) has
#: found the same minimum, and is scored against the certified values so permuted.
EQUIVALENT_PARAMETERS: dict[str, dict[str, list[tuple[int, ...]]]] = {
    "MGH17": dict(groups=[(1, 3), (2, 4)]),
    **{name: dict(groups=[(0, 1), (2, 3), (4, 5)])
       for name in ("Lanczos1", "Lanczos2", "Lanczos3")},
    **{name: dict(groups=[(2, 3, 4), (5, 6, 7)], flips=[(4,), (7,)])
       for name in ("Gauss1", "Gauss2", "Gauss3")},
    "ENSO": dict(groups=[(3, 4, 5), (6, 7, 8)], flips=[(3, 5), (6, 8)]),
    "Eckerle4": dict(flips=[(0, 1)]),
}


def equivalent_points(name: str, x: np.ndarray) -> list[np.ndarray]:
    """``x`` and every parameter vector that gives the same model values for NIST problem
    ``name`` (:data:`EQUIVALENT_PARAMETERS`)."""
    rule = EQUIVALENT_PARAMETERS.get(name, {})
    groups, flips = rule.get("groups", []), rule.get("flips", [])
    points = []
    for order in itertools.permutations(range(len(groups))):
        y = np.array(x, dtype=float)
        for target, source in zip(groups, (groups[k] for k in order)):
            y[list(target)] = np.asarray(x, dtype=float)[list(source)]
        for signs in itertools.product((1.0, -1.0), repeat=len(flips)):
            z = y.copy()
            for sign, idx in zip(signs, flips):
                z[list(idx)] *= sign
            points.append(z)
    return points


def score_lre(problem: "NistProblem", x: np.ndarray) -> float:
    """LRE of ``x`` against the certified values, the best over the model's equivalent
    parameter vectors (a mirror image of the certified minimum is that minimum)."""
    return max(lre(z, problem.certified) for z in equivalent_points(problem.name, x))
