"""A model fit as plain Python (``to_dict``) and as a pandas DataFrame (``to_dataframe``).

pandas is optional (the ``frames`` extra) and imported only by :func:`parameters_frame`.
"""
from __future__ import annotations

from typing import Any

__all__ = ["parameters_frame", "parameters_records", "result_dict"]

COLUMNS = ("value", "stderr", "min", "max", "vary", "expr", "init_value")


def parameters_records(res) -> dict[str, dict[str, Any]]:
    out = {}
    for n, p in res.params.items():
        out[n] = {"value": p.value, "stderr": p.stderr, "min": p.min, "max": p.max,
                  "vary": p.vary, "expr": p.expr, "init_value": res.init_params[n].value,
                  "correl": dict(p.correl) if p.correl else {}}
    return out


def result_dict(res) -> dict[str, Any]:
    r = res.result
    return {"model": repr(res.model), "method": res.method, "success": bool(res.success),
            "stop_reason": r.stop_reason.name, "message": res.message, "nfev": int(res.nfev),
            "ndata": res.ndata, "nvarys": res.nvarys, "nfree": res.nfree,
            "chisqr": res.chisqr, "redchi": res.redchi, "aic": res.aic, "bic": res.bic,
            "rsquared": res.rsquared, "params": parameters_records(res),
            "findings": [f.code for f in res.diagnosis]}


def parameters_frame(res):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install 'trustfit[frames]'") \
            from None
    records = parameters_records(res)
    return pd.DataFrame([[rec[c] for c in COLUMNS] for rec in records.values()],
                        index=pd.Index(list(records), name="parameter"), columns=list(COLUMNS))
