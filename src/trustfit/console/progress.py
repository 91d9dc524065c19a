"""A one-line progress bar on stderr, drawn only when stderr is a terminal.

Long work (the demo's pictures, benchmarks, batches) calls :class:`Progress`; in a pipe, a
log file or a test the bar stays silent, so captured output holds only the results.
"""
from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, "label") as bar: ... bar.advance(note="...")``."""

    WIDTH = 24
    INTERVAL = 0.1  # seconds between redraws

    def __init__(self, total: int, label: str, stream=None, enabled: bool | None = None):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.done = 0
        self._last = 0.0
        self._shown = False

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done = min(self.done + n, self.total)
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.INTERVAL or self.done == self.total):
            self._last = now
            filled = round(self.WIDTH * self.done / self.total)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r\033[K{self.label} [{bar}] {self.done}/{self.total} {note}")
            self.stream.flush()
            self._shown = True

    def close(self) -> None:
        """Erase the bar, leaving the terminal as it was."""
        if self.enabled and self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
