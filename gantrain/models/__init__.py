"""Architectures: one file per generator / discriminator, built by a function from its YAML.

Builders are keyword-only functions `build_*(*, image_shape, [num_classes,] ...) -> keras.Model`.
Generators map a latent (B, latent_dim) to images (B, H, W, C) in [-1, 1] and carry the
attributes `latent_dim` and `num_classes` (0 = unconditional); discriminators map images to
logits (B, 1) in float32.
"""
