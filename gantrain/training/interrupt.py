"""SIGTERM / SIGINT (preemption, Ctrl-C): finish the train call, save, exit with code 75.

Handlers only record the signal; the loop looks at the record between train calls, saves a
checkpoint and raises `TrainingInterrupted`. A second SIGINT while saving gets Python's default
behaviour (KeyboardInterrupt at once): checkpoint writes are safe to cut short.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

log = logging.getLogger("gantrain")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class InterruptRequest:
    """Context manager catching SIGTERM/SIGINT while training; `signal_name` once one came.

    Signal handlers can only be set from the main thread; elsewhere (a launcher's worker
    thread) it does nothing and the signals keep their usual effect.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        log.warning(
            "%s received: saving a checkpoint after the current train call, then stopping "
            "(press Ctrl-C again to stop at once without saving)",
            self.signal_name,
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> InterruptRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
