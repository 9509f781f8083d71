"""Live progress for a run: a Rich bar with ETA, requests/s and generated tokens/s."""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from .client import Completion


class Observer(Protocol):
    def message(self, text: str) -> None: ...
    def start(self, label: str, total: int, cached: int) -> None: ...
    def done(self, completion: Completion) -> None: ...
    def finish(self) -> None: ...


class Quiet:
    def message(self, text: str) -> None:
        pass

    def start(self, label: str, total: int, cached: int) -> None:
        pass

    def done(self, completion: Completion) -> None:
        pass

    def finish(self) -> None:
        pass


class _Rates(ProgressColumn):
    """Requests/s and tokens/s over what was sent in this run (cached answers excluded)."""

    def render(self, task: Task) -> Text:
        elapsed = time.monotonic() - task.fields["t0"]
        sent = task.fields["sent"]
        if elapsed <= 0 or sent == 0:
            return Text("")
        return Text(f"{sent / elapsed:.1f} req/s {task.fields['tokens'] / elapsed:.0f} tok/s", style="cyan")


class RichProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None
        self._sent = 0
        self._tokens = 0

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def start(self, label: str, total: int, cached: int) -> None:
        self.finish()
        self._sent = self._tokens = 0
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rates(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            refresh_per_second=4,
        )
        self._progress.start()
        description = f"{label} ({cached} cached)" if cached else label
        self._task = self._progress.add_task(
            description, total=total, completed=cached, t0=time.monotonic(), sent=0, tokens=0
        )

    def done(self, completion: Completion) -> None:
        assert self._progress is not None and self._task is not None
        self._sent += 1
        self._tokens += completion.completion_tokens or 0
        self._progress.update(self._task, advance=1, sent=self._sent, tokens=self._tokens)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class Notes(Quiet):
    """No progress bar, but what the run has to say (a model failed, a server restarted) is said."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)
