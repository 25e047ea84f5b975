"""Progress on a terminal (rich, when installed), silence elsewhere (CI, pipes, notebooks)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["make_progress", "progress_wanted"]


class _Quiet:
    def advance(self, status: str | None) -> None:
        pass

    def close(self) -> None:
        pass


class _RichProgress:
    def __init__(self, total: int | None, title: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._counts: dict[str, int] = {}
        #: rows are counted per row but shown at most every ``every`` seconds: a rich update
        #: per row cost more than the rest of the runner's own work on a fast batch
        self.every = 0.1
        self._clock = time.monotonic
        self._shown_at = -float("inf")
        self._unshown = 0
        self._task = self._progress.add_task(title, total=total, rate="", counts="")
        self._progress.start()

    def advance(self, status: str | None) -> None:
        if status is not None:
            self._counts[status] = self._counts.get(status, 0) + 1
        self._unshown += 1
        now = self._clock()
        if now - self._shown_at >= self.every:  # the bar redraws ~10 times a second anyway
            self._show(now)

    def _show(self, now: float) -> None:
        self._shown_at = now
        advance, self._unshown = self._unshown, 0
        self._progress.update(self._task, advance=advance)
        task = self._progress.tasks[0]
        speed = task.finished_speed or task.speed
        self._progress.update(
            self._task,
            rate=f"{speed:.1f} rows/s" if speed else "",
            counts=" ".join(f"{k} {v}" for k, v in sorted(self._counts.items())),
        )

    def close(self) -> None:
        if self._unshown:
            self._show(self._clock())
        self._progress.stop()


def progress_wanted(enabled: bool | None) -> bool:
    """``None``: a bar only when stderr is a terminal and ``CI`` is not set."""
    if enabled is None:
        return sys.stderr.isatty() and not os.environ.get("CI")
    return enabled


def make_progress(enabled: bool | None, total: int | None, title: str) -> Any:
    if not progress_wanted(enabled):
        return _Quiet()
    try:
        return _RichProgress(total, title)
    except ImportError:
        return _Quiet()
