import os
import sys
from pathlib import Path

# The reference problem registry lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis profiles: the property and fuzz tests set their own small example counts for
# the normal suite; `make fuzz` (HYPOTHESIS_PROFILE=fuzz) runs the fuzz tests with many more
# (tests/test_cli_fuzz.py reads the count from this profile).
from hypothesis import settings  # noqa: E402

settings.register_profile("fuzz", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
