"""``np.errstate(all="ignore")`` for trustfit's own arithmetic, free where one is in force.

The driver loop (:func:`trustfit.core.loop.run`) silences floating-point warnings once per fit:
an overflow at a wild trial point is a rejected step, found by explicit finiteness checks,
never a ``RuntimeWarning``. The small functions it calls (norms, stopping tests, the iterate)
are also called from outside it (the diagnosis, the covariance), so each silences them too.
Entering ``np.errstate`` costs about as much as evaluating a 20-point model, and a tiny fit
entered it about 100 times. :class:`quiet` enters it only where no ``quiet`` is already in
force in this thread (a count per thread; NumPy's error state is per thread as well).
"""
from __future__ import annotations

import threading

import numpy as np

class _Depth(threading.local):
    depth = 0  # in each thread, until it enters a quiet()


_inside = _Depth()


class quiet:
    """``with quiet():`` as ``with np.errstate(all="ignore"):``, nested ones free."""

    __slots__ = ("_state",)

    def __enter__(self) -> "quiet":
        depth = _inside.depth
        _inside.depth = depth + 1
        if depth:
            self._state = None
        else:
            self._state = np.errstate(all="ignore")
            self._state.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        _inside.depth -= 1
        if self._state is not None:
            self._state.__exit__(*exc)
