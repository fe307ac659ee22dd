"""Config schemas and validation.

Run-level groups (`trainer`, `logging`, `dataset`, `strategy`) have dataclass schemas. The
`dataset` and `strategy` nodes name their schema class with `_target_`: that class is both the
schema (typed fields) and the builder (`dataset.load()`, `strategy.create()`), so a new dataset
or strategy is one Python class and one YAML file. Model-level groups (`generator`,
`discriminator`, `optimizer.*`, `loss`) are checked against the signature of their `_target_`.

Everything is validated by `load_run_config` before any model or dataset is built: a typo or
a wrong type fails at startup with the full key's name.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

# gantrain.recipes registers the resolvers recipes use (`${gantrain.stylegan2_ada_auto:...}`).
import gantrain.recipes  # noqa: F401
from gantrain.errors import ConfigError, GantrainError

T = TypeVar("T")


def _shipped_defaults(group: str) -> dict[str, Any]:
    """The values of a run-level group's `default.yaml` as shipped with the package."""
    from importlib.resources import files

    text = (files("gantrain.configs") / group / "default.yaml").read_text(encoding="utf-8")
    values = OmegaConf.to_container(OmegaConf.create(text))
    assert isinstance(values, dict)
    return values


def _require_positive(prefix: str, **values: int | float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(f"{prefix}.{key}={value}: must be a positive number.")


@dataclass(kw_only=True)
class TrainerConfig:
    """`trainer:` group. Steps count generator updates; `batch_size` is the global batch.

    No field has a default: configs/trainer/default.yaml holds the values (one source, so
    the two cannot disagree; a key missing there fails at startup). Python callers take
    them from it with `TrainerConfig.with_defaults(...)`.
    """

    max_steps: int
    # Budgets that do not depend on the machine's speed (gantrain/budget.py): stop
    # after max_kimg thousand real images shown to D (0 = off), or, like Lightning's
    # max_time, after this much training time over all launches (seconds or "HH:MM:SS";
    # null = off); the first budget reached ends the run, with a checkpoint, resumable.
    max_kimg: float
    max_time: str | None
    batch_size: int
    seed: int
    # Train steps run inside one tf.function call; log/sample/checkpoint intervals must be
    # multiples of it.
    steps_per_loop: int
    log_every: int
    sample_every: int
    checkpoint_every: int
    checkpoints_to_keep: int
    # auto: continue from the run dir's latest checkpoint if there is one; never: refuse to
    # touch a run dir that has checkpoints; any other value: a run dir or checkpoint to start from.
    resume: str
    # Batch-norm statistics of the sampling generator are recomputed from this many latents
    # before every sample grid ("standing statistics"); 0 uses the moving averages.
    standing_stats: int
    # Run the `eval` evaluators every this many steps (and at the end); 0 turns them off.
    eval_every: int
    # true: TensorFlow op determinism, so reruns and resumed runs give bit-identical losses
    # (slower; gantrain/training/determinism.py).
    deterministic: bool
    # A NaN/inf loss: stop (error, the diverged state is not saved) or skip (that update is
    # not applied, counted in stats as skipped_updates); gantrain/training/nonfinite.py.
    on_nan: str
    # float32 | mixed_float16 | mixed_bfloat16 (gantrain/training/precision.py).
    precision: str
    # XLA-compile the per-replica train step (gantrain/training/xla.py).
    jit_compile: bool
    # Discriminator updates per generator update (each on its own real batch).
    n_critic: int
    # alternating: D updates, then G's loss sees the updated D (a second G forward);
    # simultaneous: the origin's, one G forward, both losses and gradients from it, both
    # optimizers applied after (gantrain/training/step.py).
    update: str
    # One D call over real and fake concatenated instead of two (refused for a D with batch
    # statistics); gantrain/training/phases.py.
    fused_d_pass: bool
    # Clip each update's gradients to this global norm; 0 = off.
    clip_grad_norm: float
    # A model with lazy regularization phases (interval k > 1) gets StyleGAN2's optimizer
    # adjustment: lr * c and betas ** c, c = k / (k + 1) (gantrain/training/build.py).
    lazy_adjust: bool
    # EMA of the generator's weights (samples and evaluation use it); 0 = off. Before
    # ema_start steps the EMA is a copy of the generator.
    ema_decay: float
    ema_start: int
    # Or by half-life in thousands of images (StyleGAN2-ADA's ema_kimg): beta = 0.5 **
    # (batch / (ema_kimg * 1000)), at most ema_rampup * images seen (0 = no ramp-up), and
    # ema_kimg may follow a schedule to ema_final_kimg (R3GAN); gantrain/training/ema.py.
    ema_kimg: float
    ema_rampup: float
    ema_schedule: str
    ema_final_kimg: float | None
    # Augmentation of every image D sees (gantrain/training/augmentation.py): DiffAugment
    # policies (color, translation, cutout) or StyleGAN2-ADA's [bgc]; its probability p
    # (null: the pipeline's default), p's schedule, and ADA's adaptive controller.
    augment: list[str]
    augment_p: float | None
    augment_p_schedule: str
    augment_p_final: float | None
    ada_target: float | None
    ada_interval: int
    ada_kimg: float

    @property
    def ema_by_half_life(self) -> bool:
        """The EMA follows a half-life in images (ema_kimg, or a schedule of it)."""
        return self.ema_kimg > 0 or self.ema_schedule != "constant"

    @property
    def ema_on(self) -> bool:
        """The run keeps an EMA generator (a constant decay or a half-life)."""
        return self.ema_decay > 0 or self.ema_by_half_life

    def _check_ema_half_life(self) -> None:
        final = self.ema_final_kimg
        for key, value in (("ema_kimg", self.ema_kimg), ("ema_rampup", self.ema_rampup)):
            if not 0 <= value < float("inf"):
                raise ConfigError(f"trainer.{key}={value}: must be a finite number >= 0 (0 = off).")
        if final is not None and not 0 <= final < float("inf"):
            raise ConfigError(f"trainer.ema_final_kimg={final}: must be a finite number >= 0.")
        if self.ema_schedule not in ("constant", "linear", "cosine"):
            raise ConfigError(
                f"trainer.ema_schedule={self.ema_schedule!r}: choose constant, linear or cosine."
            )
        half_life = self.ema_by_half_life
        if half_life and self.ema_decay > 0:
            raise ConfigError(
                f"trainer.ema_decay={self.ema_decay} and trainer.ema_kimg={self.ema_kimg} "
                f"(schedule {self.ema_schedule}) both set the EMA's decay; set "
                "trainer.ema_decay=0 to use the half-life, or trainer.ema_kimg=0."
            )
        if self.ema_rampup > 0 and not half_life:
            raise ConfigError(
                f"trainer.ema_rampup={self.ema_rampup} ramps up a half-life, but none is set; "
                "set trainer.ema_kimg (e.g. 10) and trainer.ema_decay=0."
            )

    @classmethod
    def with_defaults(cls, **values: Any) -> TrainerConfig:
        """The shipped configs/trainer/default.yaml with `values` on top, validated."""
        return structured({**_shipped_defaults("trainer"), **values}, "trainer", cls)

    def check(self) -> None:
        _require_positive(
            "trainer",
            max_steps=self.max_steps,
            batch_size=self.batch_size,
            steps_per_loop=self.steps_per_loop,
            log_every=self.log_every,
            sample_every=self.sample_every,
            checkpoint_every=self.checkpoint_every,
            checkpoints_to_keep=self.checkpoints_to_keep,
        )
        _require_positive("trainer", n_critic=self.n_critic)
        if self.update not in ("alternating", "simultaneous"):
            raise ConfigError(
                f"trainer.update={self.update!r}: choose alternating or simultaneous."
            )
        from gantrain.budget import parse_max_time

        parse_max_time(self.max_time)
        if not 0 <= self.max_kimg < float("inf"):  # NaN fails every comparison
            raise ConfigError(
                f"trainer.max_kimg={self.max_kimg}: must be a finite number >= 0 (thousands of "
                "real images; 0 turns it off)."
            )
        if self.clip_grad_norm < 0 or self.ema_start < 0:
            raise ConfigError(
                f"trainer.clip_grad_norm={self.clip_grad_norm}, trainer.ema_start="
                f"{self.ema_start}: must be >= 0 (clip_grad_norm=0 turns clipping off)."
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(
                f"trainer.ema_decay={self.ema_decay}: must be in [0, 1) (0 turns EMA off; "
                "0.999 or 0.9999 are usual)."
            )
        self._check_ema_half_life()
        for key in ("augment_p", "augment_p_final"):
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"trainer.{key}={value}: a probability, must be in [0, 1].")
        if self.augment_p_schedule not in ("constant", "linear", "cosine"):
            raise ConfigError(
                f"trainer.augment_p_schedule={self.augment_p_schedule!r}: choose constant, "
                "linear or cosine."
            )
        if self.ada_target is not None and not 0.0 < self.ada_target < 1.0:
            raise ConfigError(
                f"trainer.ada_target={self.ada_target}: must be in (0, 1) (StyleGAN2-ADA: 0.6)."
            )
        _require_positive("trainer", ada_interval=self.ada_interval)
        if not 0 < self.ada_kimg < float("inf"):
            raise ConfigError(f"trainer.ada_kimg={self.ada_kimg}: must be a finite number > 0.")
        # trainer.augment's policy names are checked by training (trainer.py check_run), which
        # knows them: this module stays below training/.
        if self.standing_stats < 0:
            raise ConfigError(
                f"trainer.standing_stats={self.standing_stats}: must be >= 0 (0 turns it off)."
            )
        if self.eval_every < 0:
            raise ConfigError(
                f"trainer.eval_every={self.eval_every}: must be >= 0 (0 turns it off)."
            )
        for key in ("log_every", "sample_every", "checkpoint_every", "eval_every"):
            value = getattr(self, key)
            if value % self.steps_per_loop:
                raise ConfigError(
                    f"trainer.{key}={value} is not a multiple of "
                    f"trainer.steps_per_loop={self.steps_per_loop}: events can only happen "
                    "between tf.function calls; pick a multiple."
                )
        if self.on_nan not in ("stop", "skip"):
            raise ConfigError(f"trainer.on_nan={self.on_nan!r}: use stop or skip.")
        precisions = ("float32", "mixed_float16", "mixed_bfloat16")
        if self.precision not in precisions:
            raise ConfigError(
                f"trainer.precision={self.precision!r}: use one of {', '.join(precisions)}."
            )
        if not self.resume:
            raise ConfigError(
                "trainer.resume is empty: use auto, never, or the path of a run dir or checkpoint."
            )


@dataclass(kw_only=True)
class LoggingConfig:
    """`logging:` group: what the chief writes into the run dir. No defaults here: the values
    are configs/logging/default.yaml's (see TrainerConfig)."""

    tensorboard: bool
    progress_bar: bool
    # The fixed latent grid has sample_grid x sample_grid images.
    sample_grid: int
    stats_file: str

    def check(self) -> None:
        _require_positive("logging", sample_grid=self.sample_grid)
        if not self.stats_file or "/" in self.stats_file or self.stats_file.startswith("."):
            raise ConfigError(
                f"logging.stats_file={self.stats_file!r}: must be a plain file name inside the "
                "run dir (no '/', not hidden)."
            )


@dataclass
class RunConfig:
    """A validated training config: typed run-level groups plus the model-level nodes."""

    trainer: TrainerConfig
    logging: LoggingConfig
    dataset: Any  # a gantrain.data.base.DatasetSource
    strategy: Any  # a gantrain.distribute.StrategySpec
    generator: DictConfig
    discriminator: DictConfig
    optimizer_generator: DictConfig
    optimizer_discriminator: DictConfig
    loss: DictConfig
    raw: DictConfig
    # `regularizer.<key>` nodes (configs/regularizer/), in config order; built with the state.
    regularizers: dict[str, DictConfig] = dataclasses.field(default_factory=dict)


def format_omegaconf_error(error: OmegaConfBaseException, prefix: str, valid: list[str]) -> str:
    """One line naming the full key of an OmegaConf validation error."""
    key = getattr(error, "full_key", None) or getattr(error, "key", None) or ""
    full = f"{prefix}.{key}" if prefix and key else (prefix or str(key))
    if isinstance(error, ConfigKeyError | ConfigAttributeError):
        return f"{full}: unknown key. Valid keys of {prefix}: {', '.join(valid)}."
    if isinstance(error, MissingMandatoryValue):
        return f"{full}: no value given; set it on the command line ({full}=...)."
    message = str(getattr(error, "msg", "") or error).splitlines()[0]
    if isinstance(error, ValidationError):
        return f"{full}: {message}."
    return f"{full}: {message}"


def import_target(path: str, where: str) -> Any:
    """Import `package.module.attr` named by a `_target_`, with a clear error."""
    module_name, _, attr = str(path).rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(
            f"{where}._target_={path!r} cannot be imported ({error}); check the spelling or "
            "install the package that provides it."
        ) from error


def structured_from_target(node: DictConfig, where: str, base: type[T]) -> T:
    """Validate `node` against the dataclass its `_target_` names and return an instance."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(f"{where}: needs a _target_ naming a {base.__name__} class.")
    cls = import_target(node._target_, where)
    if not (inspect.isclass(cls) and issubclass(cls, base) and dataclasses.is_dataclass(cls)):
        raise ConfigError(f"{where}._target_={node._target_!r} is not a {base.__name__} dataclass.")
    values = OmegaConf.to_container(node, resolve=True)
    values.pop("_target_")
    return structured(values, where, cls)


def structured(node: DictConfig | dict[str, Any], where: str, cls: type[T]) -> T:
    """Validate `node` against the dataclass `cls`, run its `check()`, return an instance."""
    valid = [f.name for f in dataclasses.fields(cls)]
    if isinstance(node, DictConfig):
        # Resolve against the whole config first: a recipe's interpolation may read another
        # group (${gantrain.stylegan2_ada_auto:batch_size} reads dataset.resolution), and the
        # merged copy below has no parent to read it from.
        try:
            node = OmegaConf.to_container(node, resolve=True)
        except OmegaConfBaseException as error:
            key = str(getattr(error, "full_key", "") or "")
            prefix = "" if key.startswith(f"{where}.") else where
            raise ConfigError(format_omegaconf_error(error, prefix, valid)) from error
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls), node)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(format_omegaconf_error(error, where, valid)) from error
    reject_non_finite(dataclasses.asdict(obj), where)
    check = getattr(obj, "check", None)
    if check is not None:
        check()
    return obj


def reject_non_finite(values: Any, where: str) -> None:
    """Raise ConfigError naming the first NaN or infinite number in `values` (at any depth).

    No learning rate, beta, weight or decay is meaningful as NaN or inf, and range checks
    written as `value <= 0` let NaN through; one check here covers every key.
    """
    if isinstance(values, DictConfig | ListConfig):
        try:
            values = OmegaConf.to_container(values, resolve=True)
        except OmegaConfBaseException:
            return  # an interpolation that cannot resolve: reported where it is built
    if isinstance(values, Mapping):
        for key, value in values.items():
            reject_non_finite(value, f"{where}.{key}")
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            reject_non_finite(value, f"{where}[{index}]")
    elif isinstance(values, float) and not math.isfinite(values):
        raise ConfigError(
            f"{where}={values}: must be a finite number (NaN and infinity are not valid values)."
        )


def check_target_arguments(
    node: DictConfig, where: str, provided: tuple[str, ...] = ()
) -> Callable[..., Any]:
    """Check a `_target_` node's keys against the target's signature; return the target.

    `provided` names the arguments gantrain passes at build time (such as `image_shape`):
    setting them in YAML is an error, since they come from the dataset.
    """
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(f"{where}: needs a _target_ (the function or class to build).")
    target = import_target(node._target_, where)
    params = inspect.signature(target).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    valid = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    settable = [n for n in valid if n not in provided]
    for key in node:
        if key in ("_target_", "_partial_", "_recursive_", "_convert_", "_args_"):
            continue
        if key in provided:
            raise ConfigError(
                f"{where}.{key} is derived from the dataset (or the trainer) at build time; "
                "remove it from the config."
            )
        if key not in params and not takes_any:
            raise ConfigError(
                f"{where}.{key}: unknown argument of {node._target_}. "
                f"Valid keys: {', '.join(settable)}."
            )
    for name, param in params.items():
        required = param.default is inspect.Parameter.empty and param.kind in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        if required and name not in node and name not in provided:
            raise ConfigError(
                f"{where}.{name}: required by {node._target_}; set {where}.{name}=..."
            )
    return target


def build(node: DictConfig, where: str, **provided: Any) -> Any:
    """Call a checked `_target_` node with its YAML arguments plus `provided` ones.

    Only the arguments the target accepts are passed from `provided`, so an unconditional
    generator need not declare `num_classes`.
    """
    target = check_target_arguments(node, where, tuple(provided))
    params = inspect.signature(target).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = _node_kwargs(node)
    kwargs.update({k: v for k, v in provided.items() if takes_any or k in params})
    try:
        return target(**kwargs)
    except GantrainError:
        raise
    except (TypeError, ValueError) as error:
        # Values of the right key but a wrong kind (say a string where Keras wants a number).
        raise ConfigError(f"{where}: {node._target_} rejected its arguments: {error}") from error


def _node_kwargs(node: DictConfig) -> dict[str, Any]:
    values = OmegaConf.to_container(node, resolve=True)
    assert isinstance(values, dict)
    return {
        k: v
        for k, v in values.items()
        if k not in ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")
    }


# Arguments gantrain passes to optimizer builders: the run's last step and its step counter.
_OPTIMIZER_ARGS = ("total_steps", "clock")
# ... and to regularizers (those that take them: scheduled weights).
_REGULARIZER_ARGS = _OPTIMIZER_ARGS

# Keys of the loss node before penalties became the `regularizer` group.
_LEGACY_PENALTY_KEYS = ("gp_weight", "r1_gamma", "penalty_interval")


# Trainer keys added after run dirs were first written. A run dir's config that lacks them
# gets the shipped default, which trains as those runs did, except where an override says
# otherwise (lazy_adjust: true would change the optimizers of runs with lazy phases; those
# runs alternated, before simultaneous became the default).
_NEWER_TRAINER_KEYS = (
    "update",
    "fused_d_pass",
    "ema_kimg",
    "ema_rampup",
    "ema_schedule",
    "ema_final_kimg",
    "augment_p",
    "augment_p_schedule",
    "augment_p_final",
    "ada_target",
    "ada_interval",
    "ada_kimg",
    "lazy_adjust",
)
_LEGACY_TRAINER_OVERRIDES: dict[str, Any] = {"lazy_adjust": False, "update": "alternating"}


def upgrade_legacy_trainer(cfg: DictConfig) -> DictConfig:
    """`cfg` with the trainer keys an older run dir's config lacks (`_NEWER_TRAINER_KEYS`),
    set to the values it trained with; other configs are returned as they are."""
    trainer = cfg.get("trainer")
    if not isinstance(trainer, DictConfig):
        return cfg
    missing = [k for k in _NEWER_TRAINER_KEYS if k not in trainer]
    if not missing:
        return cfg
    values = {**_shipped_defaults("trainer"), **_LEGACY_TRAINER_OVERRIDES}
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in missing:
            cfg.trainer[key] = values[key]
    return cfg


def upgrade_legacy_penalties(cfg: DictConfig) -> DictConfig:
    """A config whose loss node holds `gp_weight` / `r1_gamma` / `penalty_interval` (run
    dirs trained before penalties became the `regularizer` group) in today's shape, so
    `sample`, `export` and `eval` keep reading those run dirs. Other configs are returned as
    they are."""
    loss = cfg.get("loss")
    if not isinstance(loss, DictConfig) or not any(k in loss for k in _LEGACY_PENALTY_KEYS):
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        values = {k: cfg.loss.pop(k) for k in _LEGACY_PENALTY_KEYS if k in cfg.loss}
        interval = values.get("penalty_interval", 1)
        node = cfg.get("regularizer")
        regularizers = {} if node is None else dict(OmegaConf.to_container(node))
        if values.get("gp_weight"):
            regularizers["gradient_penalty"] = {
                "_target_": "gantrain.regularizers.gradient_penalty.GradientPenalty",
                "weight": values["gp_weight"],
                "interval": interval,
            }
        if values.get("r1_gamma"):
            regularizers["r1"] = {
                "_target_": "gantrain.regularizers.r1.R1",
                "gamma": values["r1_gamma"],
                "interval": interval,
            }
        cfg.regularizer = regularizers
    return cfg


def regularizer_nodes(cfg: DictConfig) -> dict[str, DictConfig]:
    """The `regularizer.<key>` nodes of `cfg` (none when the group is empty)."""
    node = cfg.get("regularizer")
    if node is None:
        return {}
    if not isinstance(node, DictConfig):
        raise ConfigError(
            f"regularizer={node!r}: pick regularizers by name, regularizer=[r1] or "
            "regularizer=[gradient_penalty,r1] (configs/regularizer/)."
        )
    nodes = {}
    for key, value in node.items():
        if not isinstance(value, DictConfig) or "_target_" not in value:
            raise ConfigError(
                f"regularizer.{key}: not a regularizer (no _target_); add one with "
                f"regularizer=[{key}] (configs/regularizer/{key}.yaml), then set its keys."
            )
        nodes[str(key)] = value
    return nodes


def load_run_config(cfg: DictConfig) -> RunConfig:
    """Validate a composed `train` config; raises ConfigError naming the first bad key."""
    from gantrain.data.base import DatasetSource
    from gantrain.distribute import StrategySpec

    cfg = upgrade_legacy_trainer(upgrade_legacy_penalties(cfg))

    for group in ("trainer", "logging", "dataset", "strategy", "generator", "discriminator"):
        if group not in cfg or cfg[group] is None:
            raise ConfigError(f"{group}: missing from the config; pick one with {group}=<name>.")
    optimizer = cfg.get("optimizer")
    if not isinstance(optimizer, Mapping) or not {"generator", "discriminator"} <= set(optimizer):
        raise ConfigError(
            "optimizer.generator / optimizer.discriminator: both must be set "
            "(optimizer@optimizer.generator=adam optimizer@optimizer.discriminator=adam)."
        )
    try:
        run = RunConfig(
            trainer=structured(cfg.trainer, "trainer", TrainerConfig),
            logging=structured(cfg.logging, "logging", LoggingConfig),
            dataset=structured_from_target(cfg.dataset, "dataset", DatasetSource),
            strategy=structured_from_target(cfg.strategy, "strategy", StrategySpec),
            generator=cfg.generator,
            discriminator=cfg.discriminator,
            optimizer_generator=optimizer.generator,
            optimizer_discriminator=optimizer.discriminator,
            loss=cfg.loss,
            raw=cfg,
            regularizers=regularizer_nodes(cfg),
        )
    except OmegaConfBaseException as error:  # an interpolation that cannot resolve, say
        raise ConfigError(format_omegaconf_error(error, "", [])) from error
    for group in ("generator", "discriminator", "optimizer", "loss", "regularizer"):
        reject_non_finite(cfg.get(group), group)
    check_target_arguments(run.generator, "generator", ("image_shape", "num_classes"))
    check_target_arguments(run.discriminator, "discriminator", ("image_shape", "num_classes"))
    check_target_arguments(run.optimizer_generator, "optimizer.generator", _OPTIMIZER_ARGS)
    check_target_arguments(run.optimizer_discriminator, "optimizer.discriminator", _OPTIMIZER_ARGS)
    check_target_arguments(run.loss, "loss")
    for key, node in run.regularizers.items():
        check_target_arguments(node, f"regularizer.{key}", _REGULARIZER_ARGS)
    return run
