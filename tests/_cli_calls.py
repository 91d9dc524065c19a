"""Calling the ``trustfit`` command in this process, shared by the CLI tests."""
from __future__ import annotations

import io

from trustfit.cli import command as cli


def call(capsys, *args):
    """``trustfit ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own exits
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


class Stream(io.StringIO):
    """A text stream that says whether it is a terminal (for the progress bar's tests)."""

    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty
