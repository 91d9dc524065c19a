"""``cached``: ``functools.cached_property`` without its lock.

Python 3.11's ``cached_property`` takes a lock on every first access (3.12 removed it: it
serialised unrelated instances and protected nothing the caller relies on). The driver loop
computes about 45 such values per tiny fit (the iterate's factorization, norms, gradient
measures), each once per instance, never shared between threads: the lock was overhead only.
The value is stored in the instance's ``__dict__`` under the attribute's name, as by
``cached_property``, so ``instance.__dict__.pop(name)`` still forgets it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the type checker knows cached_property; at run time, the same contract
    from functools import cached_property as cached
else:

    class cached:
        """A non-data descriptor: computed on first access, then read from the instance."""

        def __init__(self, func):
            self.func = func
            self.name = func.__name__
            self.__doc__ = func.__doc__

        def __set_name__(self, owner: type, name: str) -> None:
            self.name = name

        def __get__(self, instance: Any, owner: type | None = None) -> Any:
            if instance is None:
                return self
            value = self.func(instance)
            instance.__dict__[self.name] = value
            return value

__all__ = ["cached"]
