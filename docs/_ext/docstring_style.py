"""Read trustfit's docstrings as numpydoc means them, without rewriting the source.

trustfit's docstrings often put a parameter's description on its first line,
``x0 : (n,) starting point, inside the bounds.``, where numpydoc expects a type
(``x0 : array_like``) and renders it as one, in bold. Before numpydoc reads a docstring
(this handler runs first: priority 400 < numpydoc's 500), such a line in a
Parameters / Returns / Attributes-style section becomes the name alone with the text as
the first line of its description. A first line that looks like a type (short, not a
sentence) is left alone.
"""
from __future__ import annotations

import re

SECTIONS = {"Parameters", "Other Parameters", "Returns", "Yields", "Receives", "Raises",
            "Warns", "Attributes"}
_ENTRY = re.compile(r"^(?P<indent>\s*)(?P<name>[\w*][\w*, .]*?) : (?P<rest>.+)$")
_TYPE_WORDS = 6   # a type is a few words: "int", "array_like, optional", "(m, n) ndarray"


_PROSE = re.compile(r"\b(the|a|an|of|with|for|to|is|are)\b|'s\b")


def _is_description(rest: str) -> bool:
    """Prose, not a type: a sentence's end, a trailing comma or parenthesis (the text goes
    on), a common English word, or more words than a type has."""
    text = rest.strip()
    return (text.endswith((".", ",", ";", ":", "(")) or len(text.split()) > _TYPE_WORDS
            or _PROSE.search(text.replace("``", "")) is not None)


def split_descriptions(lines: list[str]) -> list[str]:
    out: list[str] = []
    section = None
    base = None
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        stripped = line.strip()
        if stripped and following.strip() and set(following.strip()) == {"-"}:
            section = stripped if stripped in SECTIONS else None
            base = len(line) - len(line.lstrip())
            out.append(line)
            continue
        match = _ENTRY.match(line) if section else None
        if match and len(match["indent"]) == base and _is_description(match["rest"]):
            out += [match["indent"] + match["name"], match["indent"] + "    " + match["rest"]]
            continue
        out.append(line)
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = split_descriptions(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
