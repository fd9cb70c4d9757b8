"""The progress line on stderr while the benchmark runs.

On a terminal it is one line rewritten in place a few times a second (stage, detail, elapsed time);
elsewhere (CI, a pipe) each stage is printed once, so logs stay short.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, stream=None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.started = time.monotonic()
        self.stage_text = ""
        self.detail_text = ""
        self.last_draw = 0.0

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60:d}:{seconds % 60:02d}"

    def stage(self, text: str) -> None:
        self.stage_text, self.detail_text = text, ""
        if not self.enabled:
            return
        if self.live:
            self._draw(force=True)
        else:
            print(f"[{self._elapsed()}] {text}", file=self.stream, flush=True)

    def detail(self, text: str) -> None:
        self.detail_text = text
        if self.live:
            self._draw()

    def count(self, done: int, total: int, what: str = "writes") -> None:
        self.detail(f"{done:,}/{total:,} {what}")

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < 0.2:
            return
        self.last_draw = now
        line = f"[{self._elapsed()}] {self.stage_text}"
        if self.detail_text:
            line += f": {self.detail_text}"
        self.stream.write("\r\033[K" + line[:160])
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line that stays (a warning, a finished stage's figure)."""
        if not self.enabled:
            return
        if self.live:
            self.stream.write("\r\033[K")
        print(text, file=self.stream, flush=True)
        if self.live:
            self._draw(force=True)

    def finish(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
