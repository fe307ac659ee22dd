"""Optimizer builders. Every optimizer config exposes `lr` (and Adam `beta_1`, `beta_2`)."""

from __future__ import annotations

import keras


def adam(
    *, lr: float = 2e-4, beta_1: float = 0.5, beta_2: float = 0.999, epsilon: float = 1e-7
) -> keras.optimizers.Optimizer:
    """Adam (Kingma & Ba 2015); DCGAN's beta_1=0.5 by default."""
    if lr <= 0:
        raise ValueError(f"lr={lr} must be positive")
    return keras.optimizers.Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
