"""Strategies over solving: rescue restarts, multi-start and profile-likelihood intervals,
each of which runs the solver again from points it chooses."""
