"""Say why a batch curve failed on non-finite numbers: which derivative, at which point.

A curve whose model or Jacobian is not finite at its current parameters cannot take a
Levenberg-Marquardt step: the kernel stops it (``nonfinite_model`` at the start,
``damping_overflow`` when no damping makes the step finite).  The kernel does not keep
the Jacobian, so it cannot say more.  This post-pass, run once after the fit on the
curves that did not succeed, evaluates the model and its exact derivatives (the same
guarded expressions the kernel compiles, see :mod:`trustfit.models._edges`) in numpy at
each such curve's final parameters (its start where those are not finite) and reports,
grouped over curves::

    d/d beta is not finite at t[0] = 0 for 120 curves (first: curve 3 at a=2, beta=-0.4, ...)
    the model is not finite at x[7] = 0.5 for 2 curves (first: ...)

For each curve: the first point where the model is not finite, else, for each parameter,
the first point where its derivative is not finite.  Curves whose numbers are all
finite are not mentioned (they failed for another reason), nor are curves with
non-finite data (``invalid_data``).  Nothing here decides a
curve's result; it only explains it.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

#: Lines kept in the report (the most frequent first); the rest are counted.
MAX_LINES = 10
#: Curves evaluated per numpy pass (bounds the (curves, m) temporaries).
_BLOCK = 4096


def _callables(bm):
    """numpy callables ``(f, [df/dp_k])`` of a symbolic model (``[]`` derivatives for a
    callable without a Jacobian); remembered on ``bm``."""
    cached = bm.__dict__.get("_nonfinite_callables")
    if cached is not None:
        return cached
    if bm.symbolic and bm.func is None:  # else its numpy functions (no sympy needed)
        import sympy

        from trustfit.models._edges import edge_safe_diff

        args = list(bm.independent_symbols) + list(bm.param_symbols)
        f = sympy.lambdify(args, bm.expr, ["scipy", "numpy"])
        ds = [sympy.lambdify(args, edge_safe_diff(bm.expr, p), ["scipy", "numpy"])
              for p in bm.param_symbols]
        out = ("args", f, ds)
    else:
        out = ("curve_fit", bm.func, bm.jac_func)
    bm.__dict__["_nonfinite_callables"] = out
    return out


def _evaluate(bm, xs, P):
    """Model values (c, m) and derivatives (n, c, m) or None, for parameter rows ``P``
    (c, n) and independent variables ``xs`` (k arrays of shape (1 or c, m))."""
    kind, f, ds = _callables(bm)
    c, m = P.shape[0], xs[0].shape[-1]
    cols = [P[:, j:j + 1] for j in range(P.shape[1])]
    if kind == "args":
        val = np.broadcast_to(np.asarray(f(*xs, *cols), dtype=float), (c, m))
        der = np.stack([np.broadcast_to(np.asarray(d(*xs, *cols), dtype=float), (c, m))
                        for d in ds])
        return val, der
    val = np.broadcast_to(np.asarray(f(xs[0], *cols), dtype=float), (c, m))
    if ds is None:
        return val, None
    jac = np.broadcast_to(np.asarray(ds(xs[0], *cols), dtype=float), (c, m, P.shape[1]))
    return val, np.moveaxis(jac, -1, 0)


def _point(bm, X, curve, j) -> str:
    names = [s.name for s in bm.independent_symbols] or ["x"]
    row = X[0] if X.shape[0] == 1 else X[curve]
    if len(names) == 1:
        return f"{names[0]}[{j}] = {row[0, j]:.6g}"
    values = ", ".join(f"{v:.6g}" for v in row[:, j])
    return f"({', '.join(names)})[{j}] = ({values})"


def explain_nonfinite(bm, X, Y, W, P0, params, success) -> list[str]:
    """Lines saying where the model or a derivative is not finite, for the curves that
    did not succeed and whose data are finite; ``[]`` when there is nothing to say.

    ``X`` (1 or N, k, m), ``Y`` (N, m), ``W`` (1 or N, m) and ``P0`` (1 or N, n) are the
    prepared arrays :func:`trustfit.batch.fit_batch` fitted, ``params`` (N, n) and
    ``success`` (N,) its results.
    """
    N, n = params.shape
    fails = np.flatnonzero(~np.asarray(success, dtype=bool))
    if not fails.size:
        return []
    groups: dict[tuple, list[int]] = defaultdict(list)
    first_at: dict[tuple, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for s in range(0, fails.size, _BLOCK):
            ci = fails[s:s + _BLOCK]
            Xc = X if X.shape[0] == 1 else X[ci]
            data_ok = (np.isfinite(Y[ci]).all(axis=1)
                       & np.isfinite(W if W.shape[0] == 1 else W[ci]).all(axis=1)
                       & np.isfinite(Xc).all(axis=(1, 2)))
            ci = ci[data_ok]
            if not ci.size:
                continue
            P = params[ci]
            start = np.broadcast_to(P0, (N, n))[ci]
            P = np.where(np.all(np.isfinite(P), axis=1, keepdims=True), P, start)
            xs = [X[:, v, :] if X.shape[0] == 1 else X[ci, v, :] for v in range(X.shape[1])]
            try:
                val, der = _evaluate(bm, xs, P)
            except Exception:  # noqa: BLE001 - an explanation must never break a result
                return []
            bad_val = ~np.isfinite(val)
            for r, curve in enumerate(ci):
                keys = []
                if bad_val[r].any():
                    keys.append(("model", -1, int(np.argmax(bad_val[r]))))
                elif der is not None:
                    bad = ~np.isfinite(der[:, r, :])
                    keys += [("d", int(k), int(np.argmax(bad[k])))
                             for k in np.flatnonzero(bad.any(axis=1))]
                for key in keys:
                    groups[key].append(int(curve))
                    first_at.setdefault(key, P[r])
    names = list(bm.param_names)
    order = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    lines = []
    for key, curves in order[:MAX_LINES]:
        what, k, j = key
        at = ", ".join(f"{name}={v:.6g}" for name, v in zip(names, first_at[key]))
        head = "the model" if what == "model" else f"d/d {names[k]}"
        count = f"{len(curves)} curve" + ("s" if len(curves) > 1 else "")
        lines.append(f"{head} is not finite at {_point(bm, X, curves[0], j)} for {count} "
                     f"(first: curve {curves[0]} at {at})")
    if len(order) > MAX_LINES:
        rest = sum(len(c) for _, c in order[MAX_LINES:])
        lines.append(f"... and {len(order) - MAX_LINES} more (parameter, point) pairs "
                     f"({rest} curve entries)")
    return lines
