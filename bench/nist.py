"""NIST StRD benchmark (27 problems x 2 starts) for trustfit and SciPy.

Thin wrapper: the benchmark lives in ``trustfit.apps.bench_nist`` so the package
can run it too.  ``python bench/nist.py --help`` lists the options.
"""

from trustfit.apps.bench_nist import main

if __name__ == "__main__":
    raise SystemExit(main())
