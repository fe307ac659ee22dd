"""Architectures: one file per generator / discriminator, built by a function from its YAML.

Builders are keyword-only functions `build_*(*, image_shape, [num_classes,] ...) -> keras.Model`;
`image_shape` (H, W, C) and `num_classes` (0 = unlabeled) come from the dataset at build time.
Reusable layers (spectral norm, conditional batch norm, maxout, the projection term) live in
`layers.py`; class conditioning and the shared model ends in `conditioning.py`.

Generator contract: a latent (B, latent_dim) float32 -> images (B, H, W, C) float32 in [-1, 1].
Generators whose references have no output tanh (R3GAN, StyleGAN2) set
`model.unbounded_output = True`; their images are clipped to [-1, 1] where they become pixels.
The model carries `latent_dim` and `num_classes`; a class-conditional generator
(`num_classes` > 0) takes `[z, labels]` with labels int32 (B,) in [0, num_classes).

Discriminator contract: images (B, H, W, C) in [-1, 1] -> logits (B, 1) float32, with two
class-conditional forms, told apart by model attributes (absent = 0):
- `model.num_classes` > 0 (projection discriminator): the model takes `[images, labels]`,
  labels int32 (B,), and returns logits (B, 1) float32.
- `model.auxiliary_classes` = K > 0 (ACGAN): the model takes images only and returns
  `[logits (B, 1), class_logits (B, K)]`, both float32; the train step adds the
  cross-entropy of the class logits (loss.class_weight_*).
"""
