"""Feature extractors: networks that turn images into activations for the metrics."""
