"""The Python API against the command line: the same run dir, losses, samples and scores.

`trained_run` (tests/e2e/conftest.py) is `python -m gantrain train` with TINY models; the
API trains the same config in two launches (a resume at step 2) and must end in the same
state. The other commands' code runs in-process here through their Hydra mains.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import gantrain
from gantrain.errors import ConfigError
from gantrain.generation import draw_latents
from tests.conftest import TINY, compose_config

pytestmark = pytest.mark.e2e

# Wall-clock fields differ between any two runs; everything else must match.
TIMING = {"images_per_sec", "elapsed_sec"}


def _stats(run_dir: Path) -> list[dict]:
    lines = (run_dir / "stats.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def _files(run_dir: Path) -> set[str]:
    """Relative paths, with TensorBoard event files (named by host and time) as one entry."""
    names = set()
    for path in run_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("metric-"):
            relative = path.relative_to(run_dir)
            names.add("tb/<events>" if relative.parts[0] == "tb" else str(relative))
    return names


@pytest.fixture(scope="module")
def api_run(tmp_path_factory, tiny_mnist: Path):
    """The CLI's config trained through the API: a composed config to step 2, then the CLI's
    overrides to step 4 (a resume, as rerunning the command with a larger max_steps)."""
    run_dir = tmp_path_factory.mktemp("api") / "run"
    overrides = [*TINY, f"dataset.path={tiny_mnist}"]
    cfg = gantrain.compose([*overrides, "trainer.max_steps=2"])
    first = gantrain.train(cfg, run_dir=run_dir)
    second = gantrain.train(overrides, run_dir=run_dir)
    return run_dir, first, second


def test_api_run_equals_the_cli_run(api_run, trained_run: Path) -> None:
    run_dir, first, second = api_run
    assert (first.step, first.resumed_from, first.run_dir) == (2, None, run_dir.resolve())
    assert second.step == 4 and second.resumed_from.endswith("checkpoints/ckpt-2")
    assert _stats(run_dir) == _stats(trained_run)
    last = _stats(trained_run)[-1]
    assert second.metrics["g_loss"] == pytest.approx(last["g_loss"], rel=1e-6)
    assert _files(run_dir) == _files(trained_run)
    for name in (".hydra/config.yaml", ".hydra/overrides.yaml", "checkpoints/config.yaml"):
        assert yaml.safe_load((run_dir / name).read_text()) == yaml.safe_load(
            (trained_run / name).read_text()
        ), name
    for name in ("samples/step_000002.png", "samples/step_000004.png"):
        np.testing.assert_array_equal(
            np.asarray(Image.open(run_dir / name)), np.asarray(Image.open(trained_run / name))
        )
    launches = (run_dir / "run_info.jsonl").read_text().splitlines()
    assert [json.loads(line)["resumed_from"] is None for line in launches] == [True, False]
    assert "resumed from" in (run_dir / "train.log").read_text()


def test_load_and_sample_match_the_sample_command(trained_run: Path, tmp_path: Path) -> None:
    from gantrain.tasks import export as export_task
    from gantrain.tasks import sample as sample_task

    out = tmp_path / "cli.npz"
    sample_task.main(
        compose_config(
            "sample", [f"run_dir={trained_run}", "num_samples=10", "seed=3", f"output={out}"]
        )
    )
    generator = gantrain.load(trained_run)
    assert (generator.latent_dim, generator.num_classes, generator.step) == (16, 0, 4)
    images = generator.sample(10, seed=3)
    with np.load(out) as cli:
        np.testing.assert_array_equal(images, cli["images"])
    assert images.dtype == np.float32 and images.shape == (10, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0
    # The picture `sample output=FILE.png` writes.
    png = tmp_path / "cli.png"
    sample_task.main(
        compose_config("sample", [f"run_dir={trained_run}", "num_samples=9", f"output={png}"])
    )
    np.testing.assert_array_equal(np.asarray(generator.grid(9)), np.asarray(Image.open(png)))
    frames = generator.interpolate([0, 1, 2], steps=4)
    assert frames.shape == (9, 28, 28, 1)
    np.testing.assert_allclose(frames[4], generator.sample(1, seed=1)[0], atol=1e-6)
    # The plain Keras model draws the same images from the same latents.
    keras_images = generator.keras_model(draw_latents(3, 10, 16), training=False)
    np.testing.assert_allclose(np.asarray(keras_images), images, atol=1e-6)
    # A .keras file (Generator.save, export format=keras) loads back to the same generator.
    reloaded = gantrain.load(generator.save(tmp_path / "g.keras"))
    np.testing.assert_allclose(reloaded.sample(10, seed=3), images, atol=1e-6)
    exported = tmp_path / "exported.keras"
    export_task.main(
        compose_config("export", [f"run_dir={trained_run}", f"output={exported}", "format=keras"])
    )
    from_export = gantrain.load(exported)
    assert from_export.step == 4
    np.testing.assert_allclose(from_export.sample(10, seed=3), images, atol=1e-6)
    with pytest.raises(ConfigError, match="this run's generator is unconditional"):
        generator.sample(4, labels=3)


def _eval_command(capsys, overrides: list[str]) -> dict:
    from gantrain.tasks import evaluate as evaluate_task

    capsys.readouterr()
    evaluate_task.main(compose_config("evaluate", overrides))
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_evaluate_returns_what_the_eval_command_prints(
    api_run, tiny_mnist: Path, tmp_path: Path, capsys
) -> None:
    run_dir = api_run[0]
    protocol = {"num_samples": 64, "num_real": 64}
    settings = ["eval=[fid,is]", "eval.num_samples=64", "eval.num_real=64"]
    scored = gantrain.evaluate(run_dir, metrics=["fid", "is"], protocol=protocol)
    assert scored == _eval_command(capsys, [f"run_dir={run_dir}", *settings])
    assert scored["protocol"]["step"] == 4 and np.isfinite(scored["fid"])
    # Images: an array in memory, and the same images as an .npz the command reads.
    images = gantrain.load(run_dir).sample(64)
    path = tmp_path / "images.npz"
    np.savez(path, images=images)
    real = [f"dataset.path={tiny_mnist}"]
    from_array = gantrain.evaluate(images, metrics=["fid", "is"], protocol=protocol, overrides=real)
    command = _eval_command(capsys, [f"images={path}", *settings, *real])
    assert from_array["protocol"].pop("images") == "array of 64 images"
    assert command["protocol"].pop("images") == str(path)
    assert from_array == command
