"""Penalties and regularizers: one module + one YAML each (see base.py for the protocol)."""

from gantrain.regularizers.base import (
    Regularizer,
    RegularizerContext,
    build_regularizers,
    lazy_interval,
)

__all__ = ["Regularizer", "RegularizerContext", "build_regularizers", "lazy_interval"]
