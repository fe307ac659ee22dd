"""Run-dir outputs: image grids, stats.jsonl, TensorBoard."""
