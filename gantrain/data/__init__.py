"""Datasets: one module per source, each a `DatasetSource` dataclass (see base.py)."""

from gantrain.data.base import DatasetSource, DatasetSpec, LoadedDataset

__all__ = ["DatasetSource", "DatasetSpec", "LoadedDataset"]
