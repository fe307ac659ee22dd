"""gantrain: GAN training for TensorFlow 2 / Keras 3 with Hydra experiment configs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gantrain")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"

# The Python API (gantrain/api.py) and gantrain.keras, imported on first use: `import gantrain`
# stays cheap (no TensorFlow, Keras or Hydra until a function is called).
_API = ("compose", "train", "load", "evaluate", "picture", "Generator", "TrainRun")
__all__ = ["__version__", *_API, "keras"]


def __getattr__(name: str):
    import importlib

    if name in _API:
        return getattr(importlib.import_module("gantrain.api"), name)
    if name == "keras":
        return importlib.import_module("gantrain.keras")
    raise AttributeError(f"module 'gantrain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
