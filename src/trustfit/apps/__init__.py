"""Applications built on the library: the demo, the worked examples and the NIST and batch
benchmarks (run by ``trustfit demo`` and ``trustfit bench``)."""
