"""The evaluation plugin package: image-quality metrics, classification and detection.

- `base`: the evaluator protocol (`reset`, `update`, `result`) and `EvaluatorSet`.
- `discovery`: evaluators installed by other packages (entry-point group `gantrain.evaluators`).
- `extractors/`: feature extractors (InceptionV3, gantrain's domain classifiers), injected into
  the metrics; `reference`: cached statistics of the real data per dataset/extractor/protocol.
- `metrics/`: FID, KID, Inception Score, precision/recall, all computed from activations.
- `classification/`: ImageNet top-k with ResNet-50, classification accuracy score and class
  coverage with a domain classifier, and the domain-classifier trainer.
- `detection/`: YOLOv3 through OpenCV's DNN module.
- `runner`: builds evaluators from the `eval` config and feeds them images; `callback`: the
  same during training.
"""
