"""Named fit parameters with initial values, bounds and ``vary=False``.

A solver works on a plain vector; people think in names.  :class:`Parameters`
is the bridge, in the spirit of lmfit's ``Parameters`` (an ordered mapping of
name -> :class:`Parameter`, with ``expr`` constraints such as ``expr="2*a"``
read by the same safe parser as model expressions, :mod:`.constraints`; a fit
fills in ``stderr`` and ``correl``).  :meth:`Parameters.to_arrays` gives the vector of *varying*
parameters with its bounds, in the form ``least_squares(fun, x0,
bounds=(lower, upper))`` takes, and :meth:`Parameters.full` /
:meth:`Parameters.updated` go back, holding fixed parameters at their values.

Rules checked (each failure is a ``ValueError`` naming the parameter, the value
and the rule):

* a name is ASCII letters, digits and ``_``, not a Python keyword, without ``__``
  (:func:`~trustfit.models.names.validate_name`);
* ``min < max`` (use ``vary=False`` to hold a parameter fixed, not ``min == max``);
  bounds may be infinite but not NaN;
* a value, when given, is a finite real number with ``min <= value <= max``;
* every parameter has a value by the time a vector is made from them (a
  constrained one gets it from its ``expr``);
* a constraint names only other parameters, without cycles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .names import validate_name

__all__ = ["Parameter", "Parameters"]


def _real(x: Any, what: str, allow_inf: bool) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a real number, got {x!r}") from None
    if math.isnan(v) or (not allow_inf and math.isinf(v)):
        rule = "a number, not NaN" if allow_inf else "a finite number"
        raise ValueError(f"{what} must be {rule}, got {x!r}")
    return v


class Parameter:
    """One parameter: ``Parameter(name, value=None, min=-inf, max=inf, vary=True, expr=None)``.

    ``expr`` (a string such as ``"2*a"``) makes it a constrained parameter: its value is
    computed from the others and it is not fitted (lmfit's ``expr``). Attributes may be
    changed after creation (or with :meth:`set`); call :meth:`check` (which
    :meth:`Parameters.to_arrays` does) to validate them again. After a fit, ``stderr``
    (standard error) and ``correl`` (``{other name: correlation}``) are filled in.
    """

    __slots__ = ("name", "value", "min", "max", "vary", "expr", "stderr", "correl")

    def __init__(self, name: str, value: float | None = None, min: float = -np.inf,
                 max: float = np.inf, vary: bool = True, expr: str | None = None):
        self.name = validate_name(name, "parameter")
        self.value = value
        self.min = min
        self.max = max
        self.vary = vary
        self.expr = expr
        self.stderr: float | None = None
        self.correl: dict[str, float] | None = None
        self.check(need_value=False)

    def set(self, value: float | None = None, vary: bool | None = None,
            min: float | None = None, max: float | None = None,
            expr: str | None = None) -> Parameter:
        """Change some fields (lmfit's ``Parameter.set``); ``expr=""`` removes a constraint.
        Returns self, checked."""
        for field, v in (("value", value), ("vary", vary), ("min", min), ("max", max)):
            if v is not None:
                setattr(self, field, v)
        if expr is not None:
            self.expr = expr or None
        return self.check(need_value=False)

    @property
    def free(self) -> bool:
        """Fitted: ``vary`` and no constraint ``expr``."""
        return self.vary and self.expr is None

    def check(self, need_value: bool = True) -> Parameter:
        """Validate (and normalise to floats) this parameter's fields; returns self."""
        n = self.name
        self.min = _real(self.min, f"parameter {n!r}: min", allow_inf=True)
        self.max = _real(self.max, f"parameter {n!r}: max", allow_inf=True)
        if not self.min < self.max:
            raise ValueError(f"parameter {n!r}: min={self.min!r} must be less than "
                             f"max={self.max!r} (to hold it fixed, use vary=False)")
        if not isinstance(self.vary, (bool, np.bool_)):
            raise ValueError(f"parameter {n!r}: vary must be True or False, got {self.vary!r}")
        self.vary = bool(self.vary)
        if self.expr is not None and (not isinstance(self.expr, str) or not self.expr.strip()):
            raise ValueError(f"parameter {n!r}: expr must be a non-empty string such as "
                             f"'2*a', got {self.expr!r}")
        if self.value is None:
            if need_value:
                raise ValueError(f"parameter {n!r} has no value: give an initial value, "
                                 f"e.g. make_params({n}=1.0)")
            return self
        self.value = _real(self.value, f"parameter {n!r}: value", allow_inf=False)
        if not self.min <= self.value <= self.max:
            raise ValueError(f"parameter {n!r}: value={self.value!r} is outside its bounds "
                             f"[{self.min!r}, {self.max!r}]; it must satisfy min <= value <= max")
        return self

    def copy(self) -> Parameter:
        new = Parameter(self.name, self.value, self.min, self.max, self.vary, self.expr)
        new.stderr = self.stderr
        new.correl = None if self.correl is None else dict(self.correl)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k)
                   for k in ("name", "value", "min", "max", "vary", "expr"))

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable

    def __repr__(self) -> str:
        parts = [repr(self.name), f"value={self.value!r}"]
        if self.min != -np.inf:
            parts.append(f"min={self.min!r}")
        if self.max != np.inf:
            parts.append(f"max={self.max!r}")
        if self.expr is not None:
            parts.append(f"expr={self.expr!r}")
        elif not self.vary:
            parts.append("vary=False")
        if self.stderr is not None:
            parts.append(f"stderr={self.stderr:.4g}")
        return f"Parameter({', '.join(parts)})"


class Parameters(Mapping):
    """An ordered mapping ``name -> Parameter``.

    ``Parameters(items)`` takes Parameter objects, or a mapping whose values are
    numbers (initial values) or Parameter objects.  Order is insertion order;
    models create theirs in ``model.param_names`` order.
    """

    def __init__(self, items: Iterable[Parameter] | Mapping[str, Any] | None = None):
        self._items: dict[str, Parameter] = {}
        if items is None:
            return
        if isinstance(items, Mapping):
            for name, v in items.items():
                if isinstance(v, Parameter):
                    if v.name != name:
                        raise ValueError(f"parameter key {name!r} does not match the "
                                         f"Parameter's name {v.name!r}")
                    self.add(v.copy())
                else:
                    self.add(name, v)
        else:
            for p in items:
                if not isinstance(p, Parameter):
                    raise ValueError(f"Parameters(...) takes Parameter objects or a mapping, "
                                     f"got an item {p!r}")
                self.add(p.copy())

    # -- building -------------------------------------------------------------
    def add(self, name: str | Parameter, value: float | None = None, min: float = -np.inf,
            max: float = np.inf, vary: bool = True, *, expr: str | None = None) -> Parameter:
        """Add (or replace) a parameter; returns it. Give ``min``, ``max``, ``vary`` and
        ``expr`` by keyword (lmfit's positional order differs: ``value, vary, min, max``)."""
        for label, v in (("min", min), ("max", max)):
            if isinstance(v, (bool, np.bool_)):
                raise TypeError(f"Parameters.add({name!r}, ...): {label}={v!r} is a bool; "
                                f"pass vary=... by keyword (the positional order is value, "
                                f"min, max, vary)")
        p = (name if isinstance(name, Parameter)
             else Parameter(name, value, min, max, vary, expr))
        self._items[p.name] = p
        return p

    def copy(self) -> Parameters:
        return Parameters(p.copy() for p in self._items.values())

    # -- Mapping protocol ------------------------------------------------------
    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r}; the parameters are "
                           f"{list(self._items)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self._items.values())
        return f"Parameters([{inner}])"

    def _repr_html_(self) -> str:
        from .html import parameters_html

        return parameters_html(self)

    # -- views -----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._items)

    @property
    def varying(self) -> list[str]:
        """Names of the fitted parameters (``vary=True`` and no ``expr``), in order."""
        return [n for n, p in self._items.items() if p.free]

    @property
    def constrained(self) -> list[str]:
        """Names of the parameters with a constraint ``expr``, in order."""
        return [n for n, p in self._items.items() if p.expr is not None]

    def _constraints(self):
        from .constraints import constraints_of

        return constraints_of(self)

    def valuesdict(self) -> dict[str, float | None]:
        """``{name: value}`` for all parameters, in order."""
        return {n: p.value for n, p in self._items.items()}

    # -- vector <-> parameters ---------------------------------------------------
    def check(self) -> Parameters:
        """Validate every parameter (values required); constrained ones are first given
        the values of their ``expr``. Returns self."""
        for p in self._items.values():
            p.check(need_value=p.expr is None)
        if self.constrained:
            values = self._constraints().apply(self)
            for n in self.constrained:
                self._items[n].value = values[n]
        return self

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x0, lower, upper)`` for the varying parameters, in order.

        Validates all parameters first, fixed ones included (their values are
        used by :meth:`full`).
        """
        self.check()
        var = [p for p in self._items.values() if p.free]
        return (np.array([p.value for p in var], dtype=float),
                np.array([p.min for p in var], dtype=float),
                np.array([p.max for p in var], dtype=float))

    def full(self, x_varying: Any) -> np.ndarray:
        """All parameter values as one vector: ``x_varying`` for the varying ones
        (in order), the stored value for the fixed ones, the constraint's value for the
        constrained ones."""
        var = self.varying
        xv = np.asarray(x_varying, dtype=float).reshape(-1)
        if xv.shape != (len(var),):
            raise ValueError(f"x_varying must have one value per varying parameter "
                             f"({len(var)}: {var}), got shape {np.shape(x_varying)}")
        out = np.empty(len(self._items))
        k = 0
        for i, p in enumerate(self._items.values()):
            if p.free:
                out[i] = xv[k]
                k += 1
            elif p.expr is None:
                if p.value is None:
                    raise ValueError(f"fixed parameter {p.name!r} has no value")
                out[i] = p.value
        if self.constrained:
            self._constraints().fill(out)
        return out

    def updated(self, x_varying: Any) -> Parameters:
        """A copy with the varying parameters set to ``x_varying``.

        Bounds are not re-checked here: a solver's answer lies within them up to
        rounding, and refusing it for 1 ulp would help no one.
        """
        full = self.full(x_varying)
        new = self.copy()
        for p, v in zip(new._items.values(), full, strict=True):
            p.value = float(v)
        return new
