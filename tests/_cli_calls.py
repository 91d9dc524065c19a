"""Calling the ``trustfit`` command in this process, shared by the CLI tests."""
from __future__ import annotations

from trustfit.cli import command as cli


def call(capsys, *args):
    """``trustfit ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own exits
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
