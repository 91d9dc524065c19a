import os
import sys
from pathlib import Path

# No screen in tests: matplotlib's backend by the environment (trustfit never sets one).
os.environ.setdefault("MPLBACKEND", "Agg")

# The reference problem registry lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis profiles: the property and fuzz tests keep their own small example counts in the
# normal suite; `make fuzz` (HYPOTHESIS_PROFILE=fuzz) runs the tests marked `fuzz` with at least
# this many examples each (they take max(their own count, settings.default.max_examples)).
from hypothesis import settings  # noqa: E402

# The normal suite is derandomized: the same examples on every run and every machine, so a
# CI run cannot fail on an example no earlier run saw; `make fuzz` explores anew each time.
settings.register_profile("suite", derandomize=True, deadline=None)
settings.register_profile("fuzz", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _batch_constants_of_this_session():
    """fit_batch(backend='auto') decides by this machine's measured constants, kept in the
    private cache folder across processes. The suite keeps its own, in memory and starting
    from the documented defaults, so that no earlier run (or a user's) changes a decision a
    test asserts, and nothing the suite measures under load is left for later runs."""
    from trustfit.batch import _cost, _records

    def in_memory(name: str, values: dict) -> None:
        with _records._LOCK:
            _records._MEMORY.setdefault(name, {}).update(values)

    mp = pytest.MonkeyPatch()
    mp.setattr(_cost, "machine_record", lambda: "machine-suite.json")
    mp.setattr(_cost, "update_record", in_memory)
    with _records._LOCK:
        _records._MEMORY["machine-suite.json"] = {}
    yield
    mp.undo()
