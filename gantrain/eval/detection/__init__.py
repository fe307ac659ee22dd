"""Detection evaluators: YOLOv3 (Darknet cfg + weights) through OpenCV's DNN module."""
