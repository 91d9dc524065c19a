"""Batch-mode benchmark: trustfit.fit_batch against a SciPy curve_fit loop (issue 6).

Thin wrapper; the benchmark lives in the package (``trustfit.apps.bench_batch``) so that
``trustfit bench batch`` works after ``pip install``.
"""
import sys

from trustfit.apps.bench_batch import main

if __name__ == "__main__":
    sys.exit(main())
