"""Everyday single fits beside SciPy, as ratios (issue 16).

Thin wrapper: the benchmark lives in ``trustfit.apps.bench_single`` so that
``trustfit bench single`` runs it too. ``python bench/single.py --help`` lists the options.
"""

from trustfit.apps.bench_single import main

if __name__ == "__main__":
    raise SystemExit(main())
