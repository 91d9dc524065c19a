"""Sparse and large problems: SciPy's ``jac_sparsity``, ``tr_solver`` and ``tr_options``.

:func:`iterative_setup` validates the three arguments at the boundary (SciPy's meanings and,
where SciPy raises, SciPy's wording first) and returns an :class:`IterativeSetup`, or ``None``
for the plain dense path. The setup gives :func:`trustfit.solve.methods.make_run_once` the
problem (:class:`trustfit.core.sparse_problem.SparseProblem`: grouped differences with a
pattern, sparse and operator Jacobians kept as such) and the step strategy, chosen when the
first Jacobian is seen (:class:`ByJacobian`), as SciPy chooses its ``tr_solver``: a sparse
matrix or a LinearOperator, or ``tr_solver='lsmr'``, gets the iterative strategies
(:class:`~trustfit.steps.damped_lsmr.DampedLSMR` for ``'lm'``,
:class:`~trustfit.steps.lsmr_dogleg.LSMRDogleg` for the dogleg and the dogleg stage of
``'auto'``); a dense array gets the method's dense strategy, unchanged. The globalization and
the one driver loop are the same for both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.sparse_linalg import is_large, kind_of
from ..steps.base import StepStrategy

# The sparse problem and the LSMR strategies (which load scipy.sparse) are imported where a
# setup first uses them: a dense fit, the common case, never does.

TR_SOLVERS = (None, "exact", "lsmr")
#: LSMR's own keywords that ``tr_options`` may set (SciPy passes them to ``lsmr``), and
#: SciPy's extra ``trf`` options.
LSMR_OPTIONS = ("atol", "btol", "conlim", "maxiter", "show")
EXTRA_OPTIONS = ("regularize", "damp")


def _checked_options(tr_solver: str | None, tr_options: Any) -> dict:
    if tr_options is None:
        return {}
    if not isinstance(tr_options, dict):
        raise TypeError(f"tr_options must be a dict or None, got {type(tr_options).__name__}.")
    if tr_solver == "exact":
        return {}  # SciPy: "tr_solver='exact': tr_options are ignored"
    for key, value in tr_options.items():
        if key not in LSMR_OPTIONS + EXTRA_OPTIONS:
            raise TypeError(f"tr_options: lsmr() got an unexpected keyword argument {key!r}; "
                            f"with tr_solver='lsmr' the options are "
                            f"{', '.join(LSMR_OPTIONS + EXTRA_OPTIONS)}.")
        if key == "regularize" or key == "show":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"tr_options[{key!r}] must be True or False, got {value!r}.")
        elif key == "maxiter":
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, np.integer)) or value < 1):
                raise ValueError(f"tr_options['maxiter'] must be a positive integer or None, "
                                 f"got {value!r}.")
        else:
            ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.number))
                  and np.isfinite(value) and value >= 0)
            if not ok or (key == "conlim" and value == 0):
                raise ValueError(f"tr_options[{key!r}] must be a finite number "
                                 f"{'> 0' if key == 'conlim' else '>= 0'}, got {value!r}.")
    return dict(tr_options)


def iterative_setup(tr_solver: Any, tr_options: Any, jac_sparsity: Any, jac: Any,
                    x_scale: Any) -> IterativeSetup | None:
    """Validate ``tr_solver``, ``tr_options`` and ``jac_sparsity`` (SciPy's meanings); the
    setup of the sparse path, or ``None`` where everything is dense (no pattern, finite
    differences or no ``tr_solver='lsmr'``)."""
    if tr_solver not in TR_SOLVERS:
        raise ValueError(f"`tr_solver` must be None, 'exact' or 'lsmr'. Got {tr_solver!r}; "
                         "'exact' is trustfit's dense SVD, 'lsmr' the iterative solver for "
                         "sparse and large problems.")
    options = _checked_options(tr_solver, tr_options)
    if jac_sparsity is not None and tr_solver == "exact":
        raise ValueError("tr_solver='exact' is incompatible with `jac_sparsity`: a pattern "
                         "makes the Jacobian sparse, and 'exact' needs a dense one; use "
                         "tr_solver='lsmr' (or None).")
    if jac_sparsity is not None and callable(jac):
        jac_sparsity = None  # SciPy: the pattern is for finite differences only
    if tr_solver is None and jac_sparsity is None and not callable(jac):
        return None
    if tr_solver == "exact" and not callable(jac):
        return None
    lsmr_options = {k: v for k, v in options.items() if k in LSMR_OPTIONS}
    return IterativeSetup(jac_sparsity, tr_solver, lsmr_options,
                          bool(options.get("regularize", True)),
                          float(options.get("damp", 0.0)),
                          isinstance(x_scale, str) and x_scale == "jac")


@dataclass(frozen=True)
class IterativeSetup:
    sparsity: Any
    tr_solver: str | None
    lsmr_options: dict = field(default_factory=dict)
    regularize: bool = True
    damp: float = 0.0
    #: the caller asked for x_scale='jac' (SciPy refuses it with a LinearOperator)
    jac_scale: bool = False

    def problem(self, *args, **kwargs):
        from ..core.sparse_problem import SparseProblem

        return SparseProblem(*args, sparsity=self.sparsity, **kwargs)

    def build(self, name: str, dense_strategy: StepStrategy, globalization):
        """The method ``name``: the dense strategy, or the iterative one, chosen at the first
        Jacobian; the globalization is the method's own."""
        return ByJacobian(self, name, dense_strategy), globalization

    def iterative(self, name: str, tau: float, damping: str) -> StepStrategy:
        from ..steps.damped_lsmr import DampedLSMR
        from ..steps.lsmr_dogleg import LSMRDogleg

        if name == "lm":
            return DampedLSMR(tau, damping, self.lsmr_options)
        if name in ("dogleg", "tr"):
            # 'tr' (auto's first stage): no SVD to solve the trust-region problem exactly;
            # SciPy trf's LSMR answer to it is this regularized dogleg
            return LSMRDogleg(self.lsmr_options, self.regularize, self.damp)
        raise ValueError(f"method={name!r} works only with dense Jacobian matrices; with a "
                         "sparse Jacobian, a LinearOperator or tr_solver='lsmr' use "
                         "'auto' (or 'trf'), 'dogleg', 'tr' or 'lm'.")


class ByJacobian(StepStrategy):
    """The step strategy of one method, chosen when the first Jacobian is seen: the
    iterative one for a sparse or operator Jacobian or ``tr_solver='lsmr'``, else the dense
    one (module docstring). Everything else is the chosen strategy's."""

    def __init__(self, setup: IterativeSetup, name: str, dense: StepStrategy):
        self.setup, self.method, self.dense = setup, name, dense
        self.chosen: StepStrategy = dense

    def start(self, it) -> None:
        large = is_large(it.J)
        if large and self.setup.tr_solver == "exact":
            raise ValueError("tr_solver='exact' works only with dense Jacobian matrices; jac "
                             f"returned a {type(it.J).__name__} (use tr_solver='lsmr' or None).")
        if kind_of(it.J) == "LinearOperator" and self.setup.jac_scale:
            raise ValueError("x_scale='jac' can't be used when `jac` returns LinearOperator: "
                             "its column norms are not known; give x_scale as numbers.")
        if large or self.setup.tr_solver == "lsmr":
            if getattr(self.dense, "accel", False):
                raise ValueError("accel=True (geodesic acceleration) works only with dense "
                                 "Jacobian matrices and tr_solver='exact' or None.")
            tau = getattr(self.dense, "tau", 1e-3)
            damping = getattr(self.dense, "damping", "nielsen")
            self.chosen = self.setup.iterative(self.method, tau, damping)
        self.chosen.start(it)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.chosen.name

    @property
    def needs_trial_jacobian(self) -> bool:  # type: ignore[override]
        return self.chosen.needs_trial_jacobian

    def propose(self, it, problem):
        return self.chosen.propose(it, problem)

    def update(self, it, step, outcome) -> None:
        self.chosen.update(it, step, outcome)

    def exhausted(self) -> float | None:
        return self.chosen.exhausted()

    @property
    def mu(self) -> float:
        return self.chosen.mu

    @property
    def radius(self) -> float:
        return self.chosen.radius


__all__ = ["ByJacobian", "IterativeSetup", "TR_SOLVERS", "iterative_setup"]
