"""The one rule for user-given names: parameters and independent variables.

Names come from people and from files (a model string, ``params=[...]``,
``independent=...``, a sympy Symbol, the CLI's ``--p0 a=1``) and end up as
identifiers in code that trustfit generates and compiles.  So a name is accepted
only if it is *plainly* an identifier:

* a string of ASCII letters, digits and ``_``, not starting with a digit (no
  newline, semicolon, quote, space or Unicode look-alike can get through: Python
  normalises Unicode identifiers, so ``ａ`` would silently become ``a``);
* not a Python keyword (``lambda``, ``in``, ``is``, ...);
* without ``__`` (dunder names are how escapes out of a sandbox begin).

:func:`validate_name` raises ``TypeError`` for a non-string and ``ValueError``
for a string that breaks a rule, naming the role, the name and the rule.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping, Set

__all__ = ["name_sequence", "validate_name"]

_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

#: Spelling suggestions for keywords people use as parameter names.
_INSTEAD = {"lambda": "lam", "in": "inp", "is": "is_", "as": "as_", "if": "if_"}


def _shown(name: str) -> str:
    """repr of a name, shortened: a hostile name may be megabytes long."""
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


def keyword_advice(word: str) -> str:
    """``"'lambda' is a reserved word in Python; call it lam"``."""
    return (f"{word!r} is a reserved word in Python; call it "
            f"{_INSTEAD.get(word, word + '_')}")


def validate_name(name: object, role: str = "parameter") -> str:
    """Check one user-given name; return it unchanged.

    ``role`` says what the name is for, as the message should say it
    (``"parameter"``, ``"independent variable"``, ``"--p0"``).
    """
    if not isinstance(name, str):
        raise TypeError(f"{role} name must be a string, got {type(name).__name__} "
                        f"{name!r:.60}")
    if not name:
        raise ValueError(f"{role} name '' is not valid: it is empty; a name is ASCII "
                         f"letters, digits and '_'")
    bad = next((ch for ch in name if ch not in _ASCII_WORD), None)
    if bad is not None:
        problem = (f"it contains {bad!r}; a name is ASCII letters, digits and '_', "
                   f"not starting with a digit")
    elif name[0].isdigit():
        problem = "it starts with a digit; a name is ASCII letters, digits and '_'"
    elif keyword.iskeyword(name):
        problem = keyword_advice(name)
    elif "__" in name:
        problem = "it contains '__'; names with '__' (dunder names) are reserved"
    else:
        return name
    raise ValueError(f"{role} name {_shown(name)} is not valid: {problem}")


def name_sequence(value: object, argument: str) -> list:
    """``value`` as a list of (not yet validated) names: one name, or an ordered
    sequence of names (list, tuple, array...).  ``argument`` is the argument's name
    for the message; a set (no order), a mapping, bytes or a non-iterable is a
    ``TypeError``, an empty sequence a ``ValueError``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, Mapping, Set)) or not isinstance(value, Iterable):
        raise TypeError(f"{argument} must be a name or an ordered sequence of names "
                        f"(e.g. ['x', 'y']), got {type(value).__name__} {value!r:.60}")
    names = list(value)
    if not names:
        raise ValueError(f"{argument} must name at least one variable, got an empty "
                         f"{type(value).__name__}")
    return names
