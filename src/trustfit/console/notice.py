"""One line of news on stderr for a person at a terminal, e.g. before a long wait.

Like the progress bar (:mod:`.progress`), silent when stderr is not a terminal: a pipe, a
log file or a test captures only the results.
"""
from __future__ import annotations

import sys


def notice(text: str, stream=None) -> bool:
    """Write ``text`` and a newline to ``stream`` (default ``sys.stderr``) if it is a
    terminal; return whether it was written."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        if not (isatty and isatty()):
            return False
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):  # a closed or broken stream: the notice is not essential
        return False
    return True
