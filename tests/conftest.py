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
