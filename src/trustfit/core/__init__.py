"""The solver core: the problem, differentiation, linear algebra, scaling, the stopping tests,
the result, the vocabulary shared by steps and globalizations, and the one driver loop.

It imports nothing from the rest of trustfit (enforced by ``lint-imports``, see
``pyproject.toml``); the result's convenience methods reach the analysis layer lazily."""
