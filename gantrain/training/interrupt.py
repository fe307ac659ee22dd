"""SIGTERM / SIGINT (preemption, Ctrl-C): finish the train call, save, exit with code 75.

Handlers only record the signal; the loop looks at the record between train calls, saves a
checkpoint and raises `TrainingInterrupted`. A second SIGINT stops at once (during the train
call or while saving) with `StoppedAtOnce`, one line and exit code 130: checkpoint writes are
safe to cut short (a partial checkpoint is never published), so the latest complete one stays.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

from gantrain.errors import StoppedAtOnce

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
        name = signal.Signals(signum).name
        if self.signal_name is not None and signum == signal.SIGINT:
            # Raised wherever the main thread is (a train call, a checkpoint write): Python
            # runs handlers between bytecodes, after the C++ op in progress returns.
            raise StoppedAtOnce(
                f"{name} again: stopped at once, without saving; the checkpoints saved before "
                "are kept. Run the same command again to resume from the latest one."
            )
        if self.signal_name is not None:
            return  # a repeated SIGTERM: the save is already on its way
        self.signal_name = name
        log.warning(
            "%s received: saving a checkpoint after the current train call, then stopping "
            "(press Ctrl-C again to stop at once without saving)",
            self.signal_name,
        )

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
