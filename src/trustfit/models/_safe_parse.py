"""Parse a model expression string as *data*, never as code.

A model such as ``"x3*exp(x1*t) + x4*exp(x2*t)"`` arrives as text, possibly from a
file or a command line.  ``sympy.sympify`` and ``sympy.parse_expr`` run ``eval`` on
their input, so they are never given the user's string.  Instead:

1. :func:`validate` parses the text with Python's own parser (``ast.parse`` in
   ``"eval"`` mode, which builds a tree and executes nothing) and walks the tree
   with a *whitelist* of node types.  Anything else -- attribute access,
   subscripts, lambdas, comprehensions, conditionals, comparisons, keyword
   arguments, strings, dunder names, calls of functions not in the whitelist --
   is refused with an :class:`ExpressionError` (a ``ValueError``) that says what
   was found and at which column.
2. :func:`._build.build_sympy` builds the sympy expression from the validated tree node by
   node, mapping whitelisted names to sympy functions.  Only this module's own
   tables decide what a name means.

The language
------------
* numbers (integer and decimal literals such as ``2``, ``0.5``, ``1e-3``);
* ``+ - * / **`` and unary ``-``/``+``, with Python's precedence;
* ``^`` means power, as in most formula languages.  It is rewritten to ``**``
  *before* parsing, character by character, so that it gets the precedence of a
  power: ``a + b^2`` is ``a + b**2`` and ``-t^2`` is ``-(t**2)`` (rewriting
  Python's XOR node after parsing would give ``(a + b)**2``).  Column numbers in
  error messages still refer to the text as written.
* the functions in :data:`FUNCTIONS` (one argument each), the constants ``pi``
  and ``e``;
* every other name is a parameter, except the independent variable name(s).

Limits, so that a hostile string cannot make sympy work forever: at most
:data:`MAX_LENGTH` characters, nesting at most :data:`MAX_DEPTH` levels (long
sums and products do not count), only ASCII (Python would silently normalise a
Unicode look-alike such as ``ａ`` to ``a``), and, before any sympy object is
built, the budget of :mod:`._budget` (:func:`._budget.check_budget`): constants folded in
floating point and refused when they overflow or leave their domain, a bound on
the degree of nested powers, and a bound on the estimated work of
differentiating and compiling the model.  A keyword used as a name (``lambda``)
is named as such, with a suggested spelling.

``gamma`` is deliberately *not* a function here: it is a common parameter name
(Lorentzian half-width, damping), so it stays free for that use.

Columns in messages are 1-based, as in Python's own syntax errors.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterable
from typing import cast

from .names import keyword_advice, name_sequence, validate_name

__all__ = [
    "CONSTANTS",
    "ExpressionError",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "check_name",
    "free_names",
    "unique_names",
    "validate",
]

#: Longest expression accepted; bounds parse time.
MAX_LENGTH = 5000

#: Deepest nesting accepted (calls, powers, parenthesised operands).  Long sums
#: and products do not count: ``a + b + c + ...`` is walked iteratively.  The cap
#: keeps sympy's recursive algorithms far from Python's recursion limit.
MAX_DEPTH = 50

#: Whitelisted function names -> sympy attribute (or a tag handled in ``_call``).
FUNCTIONS: dict[str, str] = {
    "exp": "exp",
    "log": "log",
    "ln": "log",
    "log10": "log10",
    "sqrt": "sqrt",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "asin": "asin",
    "arcsin": "asin",
    "acos": "acos",
    "arccos": "acos",
    "atan": "atan",
    "arctan": "atan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "abs": "Abs",
    "erf": "erf",
    "erfc": "erfc",
}

#: Whitelisted constant names -> sympy attribute.
CONSTANTS: dict[str, str] = {"pi": "pi", "e": "E"}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARYOPS = {ast.USub: "-", ast.UAdd: "+"}
_OP_SYMBOL = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitOr: "|",
    ast.BitAnd: "&", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
    ast.Invert: "~", ast.Not: "not",
}
# Friendly words for the node types people most often try; others use the class name.
_NODE_WORDS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts (indexing)",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions (a if b else c)",
    ast.Compare: "comparisons",
    ast.BoolOp: "'and'/'or'",
    ast.Tuple: "tuples",
    ast.List: "lists",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "star arguments",
    ast.JoinedStr: "strings",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


class ExpressionError(ValueError):
    """A model expression was refused.

    ``column`` is the 1-based column in the text as written and ``line`` the
    1-based line (``None`` when the problem is not at one place); for a one-line
    expression the message ends with the text and a caret under that column.
    """

    def __init__(self, text: str, problem: str, column: int | None = None, line: int | None = 1):
        self.text = text
        self.problem = problem
        self.column = column
        self.line = line if column is not None else None
        multiline = "\n" in text
        where = ""
        if column is not None:
            where = f" at line {line}, column {column}" if multiline else f" at column {column}"
        msg = f"model expression {text!r}: {problem}{where}"
        if column is not None and not multiline and len(text) <= 200:
            msg += f"\n    {text}\n    {' ' * (column - 1)}^"
        super().__init__(msg)


def check_name(name: object, what: str) -> str:
    """Check one user-given name (a parameter or independent variable).

    It must pass :func:`~trustfit.models.names.validate_name` (ASCII letters,
    digits and ``_``, not a keyword, no ``__``) and must not be one of the
    function or constant names of the expression language.
    """
    checked = validate_name(name, what)
    if checked in FUNCTIONS or checked in CONSTANTS:
        raise ValueError(f"{what} {name!r} is not allowed: it is a reserved function or "
                         f"constant name in model expressions")
    return checked


class _Source:
    """The text as written, the text as parsed (after ``^`` -> ``**``), and a map
    from parsed columns back to written columns."""

    def __init__(self, text: str):
        self.text = text
        stripped = text.lstrip(" \t")
        self.lead = len(text) - len(stripped)  # eval mode refuses leading indentation
        # Per line: written 0-based columns of each '^', so parsed columns map back.
        self.carets: list[list[int]] = []
        parsed_lines = []
        for i, line in enumerate(stripped.split("\n")):
            shift = self.lead if i == 0 else 0
            self.carets.append([j + shift for j, ch in enumerate(line) if ch == "^"])
            parsed_lines.append(line.replace("^", "**"))
        self.parsed = "\n".join(parsed_lines)

    def column(self, lineno: int | None, col0: int | None) -> int | None:
        """1-based written column for a 0-based parsed column on a 1-based line."""
        if lineno is None or col0 is None or lineno < 1 or lineno > len(self.carets):
            return None
        col = col0 + (self.lead if lineno == 1 else 0)
        # Each earlier '^' became two characters: undo one extra per caret passed.
        for k, c in enumerate(self.carets[lineno - 1]):
            if c + k < col0 + (self.lead if lineno == 1 else 0):
                col -= 1
        return col + 1

    def error(self, problem: str, node: ast.AST | None = None, col0: int | None = None,
              ) -> ExpressionError:
        """An error at ``node`` (or at parsed column ``col0`` on the node's line)."""
        col = line = None
        if node is not None:
            line = getattr(node, "lineno", None)
            col0 = getattr(node, "col_offset", None) if col0 is None else col0
            col = self.column(line, col0)
        return ExpressionError(self.text, problem, col, line)

    def segment(self, node: ast.AST, limit: int = 60) -> str:
        """The text of ``node`` as written (shortened to ``limit`` characters)."""
        lineno, end_lineno = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        start = self.column(lineno, getattr(node, "col_offset", None))
        end = self.column(end_lineno, getattr(node, "end_col_offset", None))
        if start is None or end is None or lineno is None or lineno != end_lineno:
            text = ast.unparse(node)
        else:
            text = self.text.split("\n")[lineno - 1][start - 1:end - 1]
        return text if len(text) <= limit else text[:limit - 3] + "..."

    def operator_col0(self, node: ast.BinOp) -> int | None:
        """Parsed 0-based column of a binary operator: the first non-blank
        character after the left operand (skipping closing parentheses)."""
        left = node.left
        if left.end_lineno != node.lineno or left.end_col_offset is None:
            return None
        line = self.parsed.split("\n")[node.lineno - 1]
        j = left.end_col_offset
        while j < len(line) and line[j] in " \t)":
            j += 1
        return j if j < len(line) else None


def validate(text: object) -> ast.Expression:
    """Parse ``text`` and check every node against the whitelist.

    Returns the tree; raises :class:`ExpressionError` (a ``ValueError``) naming
    the first thing refused and its column.  Nothing is executed or imported.
    """
    if not isinstance(text, str):
        raise ValueError(f"expr must be a string such as 'a*exp(-b*t)', got {type(text).__name__} "
                         f"{text!r:.80}")
    line: int | None  # where an error is reported (1-based; None: unknown)
    col: int | None
    if not text.strip():
        raise ExpressionError(text, "the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(text[:40] + "...", f"the expression has {len(text)} characters, "
                              f"more than the limit of {MAX_LENGTH}")
    for i, ch in enumerate(text):
        if not ch.isprintable() and ch not in "\n\t":
            line = text.count("\n", 0, i) + 1
            col = i - (text.rfind("\n", 0, i) + 1) + 1
            raise ExpressionError(text, f"control character {ch!r} is not allowed", col, line)
    for i, ch in enumerate(text):
        if not ch.isascii():  # Python would NFKC-normalise it: 'ａ' silently becomes 'a'
            line = text.count("\n", 0, i) + 1
            col = i - (text.rfind("\n", 0, i) + 1) + 1
            raise ExpressionError(text, f"the character {ch!r} (U+{ord(ch):04X}) is not "
                                  f"allowed: names are ASCII letters, digits and '_', and "
                                  f"operators are + - * / ** ^", col, line)
    src = _Source(text)
    try:
        tree = ast.parse(src.parsed, mode="eval")
    except SyntaxError as exc:
        _refuse_keyword(text)  # 'lambda*t': say why, not just "invalid syntax"
        msg = exc.msg or "invalid syntax"
        line = exc.lineno
        col = src.column(line, exc.offset - 1) if exc.offset and exc.offset > 0 else None
        if col is None:  # Python reports errors at the end of input without a column
            lines = text.rstrip().split("\n")
            line, col = len(lines), len(lines[-1]) + 1
            msg += " (the expression ends too early)"
        raise ExpressionError(text, f"syntax error: {msg}", col, line) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. deep nesting
        raise ExpressionError(text, f"cannot be parsed: {exc}") from None
    try:
        _check_dunders(tree, src)
        _check(tree.body, src)
    except RecursionError:
        raise ExpressionError(text, "the expression is nested too deeply") from None
    return tree


def _refuse_keyword(text: str) -> None:
    """Raise the advice for the first Python keyword used as a word in ``text``."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", line):
            if keyword.iskeyword(match.group()):
                raise ExpressionError(text, f"{keyword_advice(match.group())} (a name cannot "
                                      f"be a Python keyword)", match.start() + 1, lineno)


def _check_dunders(tree: ast.AST, src: _Source) -> None:
    """Refuse dunder names anywhere first: they are the hallmark of an escape
    attempt (``__import__``, ``().__class__``), so they get named outright."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and "__" in node.id:
            raise src.error(f"the name '{node.id}' is not allowed: names containing '__' "
                            "(dunder names) are reserved", node)
        if isinstance(node, ast.Attribute) and "__" in node.attr:
            raise src.error(f"attribute access ('.{node.attr}') is not allowed, and names "
                            "containing '__' (dunder names) are reserved", node)


def _left_spine(node: ast.AST) -> tuple[ast.AST, list[ast.BinOp]]:
    """Unroll a left-deep operator chain ``((a + b) - c) * d`` without recursion:
    returns the leftmost operand and the BinOp nodes from the innermost out."""
    chain = []
    while isinstance(node, ast.BinOp):
        chain.append(node)
        node = node.left
    return node, chain[::-1]


def _check(node: ast.AST, src: _Source, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise src.error(f"the expression is nested more than {MAX_DEPTH} levels deep", node)
    if isinstance(node, ast.BinOp):
        first, chain = _left_spine(node)
        _check(first, src, depth + 1)
        for op_node in chain:
            if type(op_node.op) not in _BINOPS:
                sym = _OP_SYMBOL.get(type(op_node.op), type(op_node.op).__name__)
                raise src.error(f"operator '{sym}' is not allowed (allowed: + - * / ** ^)",
                                op_node, src.operator_col0(op_node))
            _check(op_node.right, src, depth + 1)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARYOPS:
            sym = _OP_SYMBOL.get(type(node.op), type(node.op).__name__)
            raise src.error(f"operator '{sym}' is not allowed (allowed: + - * / ** ^)", node)
        _check(node.operand, src, depth + 1)
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            if isinstance(v, (str, bytes)):
                raise src.error("strings are not allowed; only real numbers and names", node)
            raise src.error(f"the constant {v!r} is not allowed; only real numbers", node)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise src.error(f"'{node.id}' is a function: call it, as in {node.id}(t)", node)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            _check(node.func, src, depth + 1)  # name the inner problem first
            raise src.error("only calls of the allowed functions by name are allowed "
                            f"({', '.join(sorted(FUNCTIONS))})", node)
        name = node.func.id
        if name not in FUNCTIONS:
            raise src.error(f"unknown function '{name}'; allowed functions: "
                            f"{', '.join(sorted(FUNCTIONS))}", node.func)
        if node.keywords:
            kw = node.keywords[0]
            raise src.error(f"keyword arguments are not allowed (in the call of '{name}')", kw)
        if len(node.args) != 1:
            raise src.error(f"function '{name}' takes exactly 1 argument, "
                            f"got {len(node.args)}", node)
        _check(node.args[0], src, depth + 1)
    else:
        word = _NODE_WORDS.get(type(node), type(node).__name__)
        raise src.error(f"{word}: not allowed in a model expression", node)


def free_names(tree: ast.Expression) -> list[str]:
    """Names in a validated tree that are neither functions nor constants,
    in order of first appearance."""
    first: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):  # breadth-first, so keep the earliest source position
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in CONSTANTS:
            key = (node.lineno, node.col_offset)
            first[node.id] = min(first.get(node.id, key), key)
    return sorted(first, key=first.__getitem__)


def unique_names(names: object, what: str, argument: str | None = None) -> list[str]:
    """Check a list of names for validity and duplicates.  With ``argument`` (the
    argument's name, for messages), ``names`` may also be one name or any ordered
    sequence (:func:`~trustfit.models.names.name_sequence`)."""
    if argument is not None:
        names = name_sequence(names, argument)
    out: list[str] = []
    # without ``argument`` the caller passes a sequence of names; with it, made one above
    for given in cast("Iterable[object]", names):
        n = check_name(given, what)
        if n in out:
            raise ValueError(f"{what} {n!r} is given twice")
        out.append(n)
    return out
