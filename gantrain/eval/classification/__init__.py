"""Classification evaluators: ImageNet top-k with ResNet-50, and domain classifiers trained by
gantrain (feature extractor, classification accuracy score, class coverage)."""
