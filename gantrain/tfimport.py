"""Importing TensorFlow without its C++ start-up notes on the user's terminal.

TensorFlow 2.21 writes oneDNN and CUDA-probing notes straight to file descriptor 2 before its
logging is initialised, so TF_CPP_MIN_LOG_LEVEL cannot silence them. The command-line entry
point imports TensorFlow once with fd 2 captured; the notes go to the run's log file instead
(`startup_notes()`), and are replayed on the terminal if the import fails.
Set GANTRAIN_TF_VERBOSE=1 to see them on the terminal (for example to debug GPU setup).
"""

from __future__ import annotations

import os
import sys
import tempfile

_notes: list[str] = []


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe its devices with fd 2 captured (once per process)."""
    if "tensorflow" in sys.modules or os.environ.get("GANTRAIN_TF_VERBOSE"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            if failed:
                sys.stderr.write(text)
            else:
                _notes.append(text)


def startup_notes() -> str:
    """What TensorFlow printed while it was imported quietly ('' if it was not)."""
    return "".join(_notes)
