"""Image-quality metrics computed from activations: FID, KID, Inception Score, precision/recall.

Each module has pure functions on arrays (tested against closed forms) and an `Evaluator`
that collects a feature extractor's activations of generated images and compares them with
the real data's cached statistics.
"""
