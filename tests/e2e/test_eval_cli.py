"""`gantrain eval`, `list-plugins`, `eval train-classifier`, `detect`, `classify` as a user
runs them: one JSON object on the last line of stdout, logs on stderr, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gantrain.config import load_run_config
from gantrain.data.mnist import packaged_mnist_path
from gantrain.logging.stats import read_jsonl
from gantrain.training.loop import train
from tests.conftest import TINY, compose_config, run_gantrain
from tests.unit.test_detection import write_tiny_yolo

pytestmark = pytest.mark.e2e


def _result(completed: subprocess.CompletedProcess) -> dict:
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must hold only the result: {completed.stdout[:500]}"
    return json.loads(lines[-1])


def _one_line_error(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 2, completed.stderr[-2000:]
    lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    return lines[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_mnist: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    overrides = [*TINY, f"dataset.path={tiny_mnist}"]
    train(load_run_config(compose_config(overrides=overrides)), run_dir)
    return run_dir


@pytest.mark.slow
def test_eval_run_dir_prints_metrics_and_protocol(tiny_run: Path, tmp_path: Path) -> None:
    output = tmp_path / "out" / "scores.json"
    record = _result(
        run_gantrain(
            "eval", f"run_dir={tiny_run}", "eval=[fid,kid,is,pr]", "eval.num_samples=120",
            "eval.num_real=200", "eval.kid.subset_size=50", f"eval.cache_dir={tmp_path}",
            f"output={output}",
        )
    )  # fmt: skip
    assert {"fid", "kid_x1e3", "kid_x1e3_std", "is", "is_std", "precision", "recall"} <= set(record)
    assert record["fid"] > 0 and 1.0 <= record["is"] <= 10.0
    protocol = record["protocol"]
    assert protocol["num_generated"] == 120 and protocol["num_real"] == 200
    assert protocol["real_split"] == "train" and protocol["dataset"] == "mnist"
    assert protocol["extractor"] == "domain" and "mnist_classifier.keras" in protocol["weights"]
    assert protocol["resize"].startswith("none") and protocol["step"] == 4
    assert protocol["evaluators"]["kid"]["subset_size"] == 50
    assert json.loads(output.read_text()) == record
    fid_lines = read_jsonl(tiny_run / "metric-fid.jsonl")
    assert fid_lines[-1]["step"] == 4 and fid_lines[-1]["fid"] == pytest.approx(record["fid"])
    assert fid_lines[-1]["protocol"]["num_real"] == 200
    assert read_jsonl(tiny_run / "metric-pr.jsonl")[-1]["recall"] == record["recall"]

    earlier = _result(
        run_gantrain(
            "eval", f"run_dir={tiny_run}", "checkpoint=ckpt-2",
            "eval=fid", "eval.num_samples=120", "eval.num_real=200", f"eval.cache_dir={tmp_path}",
        )
    )  # fmt: skip
    assert earlier["protocol"]["step"] == 2 and set(earlier) == {"fid", "protocol"}
    assert earlier["fid"] != record["fid"]


@pytest.mark.slow
def test_eval_images_scores_real_digits_well(tmp_path: Path) -> None:
    with np.load(packaged_mnist_path()) as mnist:
        digits, labels = mnist["x_test"][:500, :, :, None], mnist["y_test"][:500]
    path = tmp_path / "digits.npz"
    np.savez(path, images=digits, labels=labels)
    record = _result(
        run_gantrain(
            "eval", f"images={path}", "eval=[fid,is,cas]", "eval.num_real=500",
            f"eval.cache_dir={tmp_path}",
        )
    )  # fmt: skip
    # Real test digits: the shipped classifier recognises them and they look like the train set.
    assert record["cas"] > 0.97 and record["modes_covered"] == 10
    assert record["is"] > 8.0
    assert record["protocol"]["images"] == str(path) and record["protocol"]["num_generated"] == 500


@pytest.mark.slow
def test_eval_mistakes_are_one_line(tmp_path: Path) -> None:
    line = _one_line_error(run_gantrain("eval", "eval=fid"))
    assert "give run_dir=DIR" in line and "images=FILE.npz" in line
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.full((4, 28, 28, 1), 3.0, np.float32))
    line = _one_line_error(run_gantrain("eval", f"images={bad}"))
    assert "outside [-1, 1]" in line
    line = _one_line_error(run_gantrain("eval", "trian-classifier", "dataset=mnist"))
    assert "unknown eval subcommand 'trian-classifier'; valid: train-classifier" in line


PLUGIN = '''
import numpy as np
from gantrain.eval.base import Evaluator


class Contrast(Evaluator):
    """Standard deviation of the pixels."""

    def __init__(self, *, scale: float = 1.0):
        self.scale = scale

    def metric_names(self):
        return ("contrast",)

    def reset(self):
        self.parts = []

    def update(self, batch):
        self.parts.append(batch.images.ravel())

    def result(self):
        return {"contrast": self.scale * float(np.concatenate(self.parts).std())}
'''


@pytest.mark.slow
def test_third_party_evaluator_is_discovered_and_used(tmp_path: Path) -> None:
    package = tmp_path / "src"
    (package / "contrast_eval").mkdir(parents=True)
    (package / "contrast_eval" / "__init__.py").write_text(PLUGIN)
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "contrast-eval"\nversion = "0.1"\n'
        '[project.entry-points."gantrain.evaluators"]\ncontrast = "contrast_eval:Contrast"\n'
    )
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
         "--target", str(target), str(package)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    env = {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listing = run_gantrain("list-plugins", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "contrast_eval:Contrast  [contrast-eval]" in listing.stdout
    assert "fid" in listing.stdout and "eval=kid" in listing.stdout

    images = tmp_path / "images.npz"
    np.savez(images, images=np.array([0, 255], np.uint8).repeat(392).reshape(1, 28, 28, 1))
    record = _result(
        run_gantrain(
            "eval", f"images={images}", "eval=[]", "+eval.mine.plugin=contrast",
            "+eval.mine.scale=2.0", env=env,
        )
    )  # fmt: skip
    assert record["contrast"] == pytest.approx(2.0)
    assert set(record) == {"contrast", "protocol"}


@pytest.mark.slow
def test_train_classifier_tiny_run_then_use_it(tiny_mnist: Path, tmp_path: Path) -> None:
    output = tmp_path / "classifiers" / "tiny.keras"
    record = _result(
        run_gantrain(
            "eval", "train-classifier", f"dataset.path={tiny_mnist}", "epochs=1",
            "batch_size=64", f"output={output}",
        )
    )  # fmt: skip
    assert record["classifier"] == str(output) and output.is_file()
    assert 0.0 <= record["test_accuracy"] <= 1.0 and record["num_test"] == 64
    assert record["test_split"] == "test split" and record["num_train"] == 256
    assert json.loads(output.with_suffix(".json").read_text())["epochs"] == 1

    digits = tmp_path / "d.npz"
    with np.load(tiny_mnist) as data:
        np.savez(digits, images=data["x_test"][:, :, :, None])
    scored = _result(
        run_gantrain(
            "eval", f"images={digits}", f"dataset.path={tiny_mnist}", "eval=fid",
            f"eval.classifier={output}", f"eval.cache_dir={tmp_path}",
        )
    )  # fmt: skip
    assert scored["protocol"]["weights"].startswith("tiny.keras sha256:")
    assert scored["protocol"]["num_real"] == 256


@pytest.mark.slow
def test_detect_command_writes_json_and_annotated_images(tmp_path: Path) -> None:
    cfg, weights, names = write_tiny_yolo(tmp_path)
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    out = tmp_path / "annotated"
    record = _result(
        run_gantrain(
            "detect", f"image={folder}", f"cfg={cfg}", f"weights={weights}", f"names={names}",
            "input_size=64", "conf_threshold=0.3", f"output={out}",
        )
    )  # fmt: skip
    assert [Path(r["image"]).name for r in record["images"]] == ["a.png", "b.jpg"]
    first = record["images"][0]
    assert first["width"] == 60 and first["height"] == 40 and first["detections"]
    assert set(first["detections"][0]) == {"class_id", "label", "confidence", "box"}
    assert record["protocol"]["nms"].startswith("cv2.dnn.NMSBoxes")
    assert (out / "a.png").is_file() and (out / "b.jpg").is_file()
    assert json.loads((out / "detections.json").read_text()) == record

    truncated = tmp_path / "short.weights"
    truncated.write_bytes(weights.read_bytes()[:-8])
    line = _one_line_error(
        run_gantrain("detect", f"image={folder}", f"cfg={cfg}", f"weights={truncated}",
                     f"names={names}", "input_size=64")
    )  # fmt: skip
    assert "truncated" in line


@pytest.mark.slow
def test_classify_without_weights_file_says_where(tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    line = _one_line_error(run_gantrain("classify", f"image={image}", f"weights={tmp_path}/r.h5"))
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in line


def test_export_stats_writes_mu_sigma_in_the_ttur_layout(tiny_mnist: Path, tmp_path: Path) -> None:
    stats = tmp_path / "mnist_test.npz"
    exported = run_gantrain(
        "eval", "export-stats", f"dataset.path={tiny_mnist}", f"output={stats}",
        "eval.protocol=fid10k_test",
    )  # fmt: skip
    record = _result(exported)
    assert record["protocol"]["name"] == "fid10k_test" and record["protocol"]["num_real"] == 64
    with np.load(stats, allow_pickle=False) as archive:  # the TTUR / pytorch-fid layout
        assert archive["mu"].shape == (128,) and archive["sigma"].shape == (128, 128)
    refused = run_gantrain("eval", "export-stats", f"dataset.path={tiny_mnist}", "output=x.txt")
    assert "must end in .npz" in _one_line_error(refused)
