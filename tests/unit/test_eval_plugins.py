"""The evaluator protocol, evaluator sets, entry-point discovery and building from config."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from gantrain.data.mnist import MnistSource
from gantrain.errors import ConfigError
from gantrain.eval import discovery
from gantrain.eval.base import Batch, Evaluator, EvaluatorSet, Features
from gantrain.eval.runner import Evaluation, image_batches
from gantrain.eval.settings import EvalSettings, load_eval_settings
from tests.conftest import compose_config


class Brightness(Evaluator):
    """Mean pixel value: a complete evaluator in a few lines (used through config below)."""

    def __init__(self, *, prefix: str = "") -> None:
        self.name = f"{prefix}brightness"

    def metric_names(self):
        return (self.name,)

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, batch):
        self.total += float(batch.images.sum())
        self.count += batch.images.size

    def result(self):
        return {self.name: self.total / self.count}


class Liar(Brightness):
    def result(self):
        return {"something_else": 1.0}


def test_set_runs_every_evaluator_over_every_batch() -> None:
    images = np.linspace(-1, 1, 4 * 2 * 2).reshape(4, 2, 2, 1).astype(np.float32)
    evaluators = EvaluatorSet({"a": Brightness(), "b": Brightness(prefix="x_")})
    results = evaluators.run(image_batches(images, None, batch_size=3))
    assert results == {
        "a": {"brightness": pytest.approx(0.0, abs=1e-6)},
        "b": {"x_brightness": pytest.approx(0.0, abs=1e-6)},
    }
    # reset between runs: a second run does not accumulate onto the first
    again = evaluators.run(image_batches(images + 1.0, None, batch_size=3))
    assert again["a"]["brightness"] == pytest.approx(1.0)


def test_set_rejects_duplicate_metric_names() -> None:
    with pytest.raises(ConfigError, match="both report 'brightness'"):
        EvaluatorSet({"one": Brightness(), "two": Brightness()})
    with pytest.raises(ConfigError, match="not a gantrain.eval.base.Evaluator"):
        EvaluatorSet({"one": object()})


def test_set_checks_results_against_declared_names() -> None:
    images = np.zeros((2, 2, 2, 1), np.float32)
    with pytest.raises(RuntimeError, match="declared"):
        EvaluatorSet({"liar": Liar()}).run(image_batches(images, None, 2))


def test_batch_runs_an_extractor_once_for_all_evaluators() -> None:
    calls = []

    def extractor(images):
        calls.append(len(images))
        return Features(images.reshape(len(images), -1))

    batch = Batch(np.zeros((3, 2, 2, 1), np.float32))
    first, second = batch.features(extractor), batch.features(extractor)
    assert first is second and calls == [3]


class _Dist:
    def __init__(self, name: str) -> None:
        self.name = name


def _fake_entry_points(monkeypatch, *entries: tuple[str, str, str]) -> None:
    points = []
    for name, value, dist in entries:
        point = metadata.EntryPoint(name, value, discovery.GROUP)
        object.__setattr__(point, "dist", _Dist(dist))  # EntryPoint is immutable
        points.append(point)

    def entry_points(group=None):
        return [p for p in points if group in (None, p.group)]

    monkeypatch.setattr(discovery.metadata, "entry_points", entry_points)


def test_discovery_reads_the_entry_point_group(monkeypatch) -> None:
    _fake_entry_points(
        monkeypatch,
        ("brightness", "tests.unit.test_eval_plugins:Brightness", "their-package"),
        ("fid", "gantrain.eval.metrics.fid:FIDEvaluator", "gantrain"),
    )
    assert discovery.plugin_target("brightness", "eval.x") == (
        "tests.unit.test_eval_plugins.Brightness"
    )
    rows = discovery.describe_plugins()
    assert [(r["name"], r["distribution"]) for r in rows] == [
        ("brightness", "their-package"),
        ("fid", "gantrain"),
    ]
    with pytest.raises(ConfigError, match="no installed evaluator of that name.*brightness, fid"):
        discovery.plugin_target("sharpness", "eval.x")


def test_discovery_refuses_two_packages_claiming_one_name(monkeypatch) -> None:
    _fake_entry_points(monkeypatch, ("fid", "a.b:C", "pkg-a"), ("fid", "d.e:F", "pkg-b"))
    with pytest.raises(ConfigError, match="two installed packages declare the evaluator 'fid'"):
        discovery.plugins()


def test_gantrain_declares_its_own_evaluators() -> None:
    names = set(discovery.plugins())
    assert {"fid", "kid", "is", "pr", "cas", "imagenet", "yolo"} <= names


def _settings(**evaluators) -> EvalSettings:
    return EvalSettings(evaluators=evaluators, num_real=16)


def test_evaluation_builds_by_target_and_by_plugin(monkeypatch, tiny_mnist: Path) -> None:
    _fake_entry_points(
        monkeypatch, ("brightness", "tests.unit.test_eval_plugins:Brightness", "their-package")
    )
    settings = _settings(
        mine={"_target_": "tests.unit.test_eval_plugins.Brightness", "prefix": "a_"},
        theirs={"plugin": "brightness"},
    )
    evaluation = Evaluation(
        settings, MnistSource(path=str(tiny_mnist)), num_classes=10, conditional=False
    )
    images = np.full((5, 28, 28, 1), 0.5, np.float32)
    results, protocol = evaluation.score(image_batches(images, None, 2))
    assert results == {"mine": {"a_brightness": 0.5}, "theirs": {"brightness": 0.5}}
    assert protocol["num_generated"] == 5
    # Nothing needed the real data, so it was not loaded and is not in the protocol.
    assert "num_real" not in protocol


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"prefix": "x"}, "needs _target_ .* or plugin"),
        ({"_target_": "tests.unit.test_eval_plugins.Brightness", "plugin": "b"}, "not both"),
        ({"_target_": "tests.unit.test_eval_plugins.Brightness", "prefx": "x"}, "prefx: unknown"),
        ({"_target_": "tests.unit.test_eval_plugins.Brightness", "extractor": "domain"},
         "takes no feature extractor"),
        ({"_target_": "gantrain.eval.metrics.fid.FIDEvaluator", "extractor": "vgg"},
         "use one of auto, dinov2, domain, inception, inception_fid"),
        ({"plugin": "nope"}, "no installed evaluator"),
    ],
)  # fmt: skip
def test_evaluation_config_mistakes_are_one_line(node, message, tiny_mnist: Path) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Evaluation(
            _settings(bad=node),
            MnistSource(path=str(tiny_mnist)),
            num_classes=10,
            conditional=False,
        )
    assert "\n" not in str(caught.value)


def test_eval_settings_from_composed_configs() -> None:
    settings = load_eval_settings(compose_config("evaluate", ["eval=[fid,kid]", "eval.seed=3"]))
    assert sorted(settings.evaluators) == ["fid", "kid"] and settings.seed == 3
    assert settings.evaluator_node("kid")._target_.endswith("KIDEvaluator")
    train = load_eval_settings(compose_config("train", []))
    assert sorted(train.evaluators) == ["fid"] and train.best_metric == "fid"
    with pytest.raises(ConfigError, match="eval.num_samples=0: must be a positive number"):
        load_eval_settings(compose_config("evaluate", ["eval.num_samples=0"]))
    with pytest.raises(ConfigError, match="eval.extractor='vgg'"):
        load_eval_settings(compose_config("evaluate", ["eval.extractor=vgg"]))
    with pytest.raises(ConfigError, match=r"eval.yolo.cfg: no value given"):
        load_eval_settings(compose_config("evaluate", ["eval=[yolo]"]))


def test_every_shipped_eval_config_names_an_evaluator_class() -> None:
    from gantrain.config import import_target
    from gantrain.tasks.list_plugins import eval_configs

    configs = eval_configs()
    assert len(configs) >= 7
    for option, described in configs:
        name = option.split("=", 1)[1]
        node = OmegaConf.load(Path(__file__).parents[2] / "configs" / "eval" / f"{name}.yaml")
        assert list(node) == [name], f"{name}.yaml must hold one node named {name}"
        target = import_target(node[name]._target_, name)
        assert issubclass(target, Evaluator) and described.endswith(node[name]._target_)
