"""TensorBoard tags of a run: plain metric names -> grouped tags, each with a description.

`stats.jsonl` keeps the plain names the code produces (`d_loss`, `d_real`, `lr_generator`,
...); TensorBoard groups a run's tags by the part before the first `/`, so each name gets a
group. Known names come from `TABLE`; any other name gets one by `RULES`, so a metric added by
a new loss, regularizer or augmentation lands in a sensible group without editing this file:

| group | what | rule for names not in the table |
|---|---|---|
| `loss/` | the losses each update minimizes | `*_loss`, `*_loss_*` |
| `D/` | D's outputs: D(x), D(G(z)) | (table only) |
| `reg/` | penalty and regularizer terms, before their weights | other `d_*`, `g_*` |
| `lr/` | learning rates | `lr_<x>` -> `lr/<x>` |
| `aug/` | augmentation state (ADA's p as `aug_p` -> `aug/p`) | `aug_*` |
| `speed/`, `progress/`, `health/` | images/s; epoch and kimg; skipped updates | (table only) |
| `eval/<protocol>_<extractor>/` | evaluator results (`eval_tag`) | |
| `misc/` | anything else | everything left |

A name that already holds a `/` is taken as a tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_D_OUTPUT = (
    "a probability for the sigmoid losses (non_saturating, minimax, relativistic), the raw "
    "critic score for wgan, hinge and lsgan"
)

#: name -> (tag, description) for every metric gantrain itself logs.
TABLE: dict[str, tuple[str, str]] = {
    "d_loss": (
        "loss/discriminator",
        "D's loss per example, mean over the global batch: the adversarial loss plus the "
        "ACGAN class loss and any penalty that runs every step",
    ),
    "g_loss": ("loss/generator", "G's loss per example, mean over the global batch"),
    "d_loss_real": ("loss/discriminator_real", "the part of D's adversarial loss on real images"),
    "d_loss_fake": (
        "loss/discriminator_fake",
        "the part of D's adversarial loss on generated images",
    ),
    "d_class_loss": ("loss/discriminator_class", "ACGAN: D's class cross-entropy, real + fake"),
    "g_class_loss": ("loss/generator_class", "ACGAN: G's class cross-entropy on its labels"),
    "d_reg_loss": (
        "loss/discriminator_lazy_regularization",
        "the lazy regularization update's loss (penalties x weight x interval), held between "
        "the steps it runs",
    ),
    "d_real": ("D/real", f"D(x): D's mean output on real images; {_D_OUTPUT}"),
    "d_fake": (
        "D/fake",
        f"D(G(z)): D's mean output on generated images in D's update; {_D_OUTPUT}",
    ),
    "g_d_fake": (
        "D/fake_in_generator_step",
        "D(G(z)) in G's update, after D's update of the same step",
    ),
    "d_wasserstein": (
        "D/wasserstein",
        "D(x) - D(G(z)) of the critic: WGAN's estimate of the Wasserstein distance",
    ),
    "d_class_accuracy": (
        "D/class_accuracy",
        "ACGAN: the share of real images D's classifier labels correctly",
    ),
    "d_r1": ("reg/r1", "R1 penalty: squared norm of grad D(x) on real images, before its weight"),
    "d_gradient_penalty": (
        "reg/gradient_penalty",
        "WGAN-GP: (norm of grad D - 1)^2 on real/fake interpolates, before its weight",
    ),
    "lr_generator": ("lr/generator", "G's learning rate at this step (after its schedule)"),
    "lr_discriminator": ("lr/discriminator", "D's learning rate at this step (after its schedule)"),
    "images_per_sec": (
        "speed/images_per_sec",
        "steps x batch size per second of train-call wall time over the last log interval "
        "(callbacks excluded; the first interval includes tracing)",
    ),
    "aug_p": (
        "aug/p",
        "the augmentation probability used at this step (trainer.augment_p, its schedule, or "
        "ADA's adapted p)",
    ),
    "aug_rt": (
        "aug/rt",
        "ADA's overfitting heuristic r_t = E[sign D(x)] over the last adjustment interval; p "
        "rises while it is above trainer.ada_target",
    ),
    "epoch": ("progress/epoch", "passes over the training set so far"),
    "kimg": ("progress/kimg", "thousands of real images D has seen so far (trainer.max_kimg)"),
    "skipped_updates": (
        "health/skipped_updates",
        "updates skipped for a NaN/inf loss so far (trainer.on_nan=skip)",
    ),
}

#: (pattern, tag template, description template) tried in order for names not in TABLE.
RULES: tuple[tuple[str, str, str], ...] = (
    (r"^lr_(?P<rest>.+)$", "lr/{rest}", "learning rate of {rest}"),
    (r"^aug_(?P<rest>.+)$", "aug/{rest}", "augmentation: {rest}"),
    (r"^(?P<name>.*_loss(_.+)?)$", "loss/{name}", "loss term {name}, mean per example"),
    (
        r"^(?P<name>[dg]_.+)$",
        "reg/{name}",
        "penalty or regularizer term {name} of a phase, mean per example, before its weight",
    ),
    (r"^(?P<name>.+)$", "misc/{name}", "{name}"),
)

#: The scalars that judge a run in the HParams dashboard (the evaluator results join them).
JUDGING = ("d_loss", "g_loss", "d_real", "d_fake")

#: Image tags.
SAMPLES_TAG = "samples/fixed_latents"
SAMPLES_DESCRIPTION = (
    "the sampling generator (the EMA copy when trainer.ema_decay > 0) on the same fixed "
    "latents at every trainer.sample_every steps, from step 0; compare with samples/real"
)
REAL_TAG = "samples/real"
REAL_DESCRIPTION = "real training images (the first batch the run reads), logged once"

_METRIC_DESCRIPTIONS = {
    "fid": "Frechet distance between real and generated features (lower is better)",
    "kid": "kernel inception distance, unbiased MMD^2 (lower is better)",
    "kid_std": "std of KID over its subsets",
    "kid_x1e3": "kernel inception distance x 10^3, unbiased MMD^2 (lower is better)",
    "kid_x1e3_std": "std of KID x 10^3 over its subsets",
    "intra_fid": "mean over classes of the per-class FID (conditional models; lower is better)",
    "density": "density (Naeem et al.): samples near real images, 1 for matching sets",
    "coverage": "coverage (Naeem et al.): share of real images with a sample nearby (higher)",
    "is": "Inception Score (higher is better)",
    "is_std": "std of the Inception Score over its splits",
    "precision": "improved precision: share of samples inside the real manifold (higher)",
    "recall": "improved recall: share of real images inside the generated manifold (higher)",
    "cas": "classification accuracy score of the domain classifier on requested labels",
    "confidence": "mean top-class probability of the samples (domain classifier)",
    "modes_covered": "classes reaching their coverage threshold",
    "class_kl": "KL divergence of the samples' class histogram to the real one (lower)",
}


def tag(name: str) -> str:
    """The TensorBoard tag of metric `name` (see the module docstring)."""
    if "/" in name:
        return name
    if name in TABLE:
        return TABLE[name][0]
    for pattern, template, _ in RULES:
        found = re.match(pattern, name)
        if found:
            return template.format(**found.groupdict())
    raise AssertionError("the last rule matches every name")


def description(name: str) -> str:
    """What metric `name` (or a tag) is, in one sentence, for the summary's description."""
    if name in TABLE:
        return TABLE[name][1]
    for pattern, _, template in RULES:
        found = re.match(pattern, name)
        if found:
            return template.format(**found.groupdict())
    return name


def eval_tag(metric: str, protocol: str) -> str:
    """`eval/<protocol>/<metric>`; `protocol` names the protocol and the extractor
    (`Evaluation.tag_name()`: `default_domain`, `fid50k_full_inception_fid`)."""
    return f"eval/{protocol}/{metric}"


def eval_description(metric: str, protocol: Mapping[str, Any]) -> str:
    """The metric's meaning plus the protocol it was measured with."""
    meaning = _METRIC_DESCRIPTIONS.get(metric, metric)
    fields = ("num_generated", "num_real", "dataset", "real_split", "extractor", "resize")
    details = ", ".join(f"{k}={protocol[k]}" for k in fields if protocol.get(k) is not None)
    return f"{meaning}; protocol: {details}" if details else meaning
