"""Architectures: one file per generator / discriminator, built by a function from its YAML.

Builders are keyword-only functions `build_*(*, image_shape, [num_classes,] ...) -> keras.Model`.
Generators map a latent (B, latent_dim) to images (B, H, W, C) float32 in [-1, 1] and carry
the attributes `latent_dim` and `num_classes` (0 = unconditional); a class-conditional
generator (num_classes > 0) takes `[z, labels]` with labels int32 (B,). Discriminators map
images (or `[images, labels]` when conditional) to logits (B, 1) float32.
"""
