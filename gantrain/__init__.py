"""gantrain: GAN training for TensorFlow 2 / Keras 3 with Hydra experiment configs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gantrain")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
