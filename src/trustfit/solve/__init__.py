"""Solving: a method is a step strategy (:mod:`trustfit.steps`) plus a globalization
(:mod:`trustfit.globalize`) run by the core loop, then its phases (the Gauss-Newton polish);
``'auto'`` runs two methods."""
