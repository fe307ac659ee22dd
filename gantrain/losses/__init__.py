"""Losses: pure functions on discriminator logits (adversarial.py)."""

from gantrain.losses.adversarial import AdversarialLoss, LossTerms

__all__ = ["AdversarialLoss", "LossTerms"]
