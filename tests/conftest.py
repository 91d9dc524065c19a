import sys
from pathlib import Path

# The reference problem registry lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis profiles: the normal run keeps each property test's own max_examples;
# HYPOTHESIS_PROFILE=fuzz (make fuzz) raises every fuzz test to at least 5000 examples
# (fuzz tests take max(their own count, settings.default.max_examples)).
try:
    import os

    from hypothesis import settings

    settings.register_profile("fuzz", max_examples=5000, deadline=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
except ImportError:  # hypothesis is in the test extra; tests that need it skip
    pass
