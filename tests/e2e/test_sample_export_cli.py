"""`gantrain sample` (new modes) and `gantrain export` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gantrain.config import load_run_config
from gantrain.generation import draw_latents
from gantrain.tasks.sample import load_sampler
from gantrain.training.loop import train
from tests.conftest import TINY, compose_config, run_gantrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_mnist: Path) -> Path:
    path = tmp_path_factory.mktemp("cli") / "run"
    train(load_run_config(compose_config(overrides=[*TINY, f"dataset.path={tiny_mnist}"])), path)
    return path


def test_interpolation_passes_through_each_seed_sample(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "walk.npz"
    result = run_gantrain(
        "sample",
        f"run_dir={run_dir}",
        "mode=interpolate",
        "seeds=[4,1]",
        "steps=3",
        f"output={out}",
    )
    assert result.returncode == 0, result.stderr
    with np.load(out) as data:
        images, latents = data["images"], data["latents"]
    assert images.shape == (4, 28, 28, 1)
    sampler, _, _ = load_sampler(str(run_dir))
    for frame, seed in ((0, 4), (3, 1)):
        # The key frame is what `sample seed=S num_samples=1` draws.
        z = draw_latents(seed, 1, sampler.latent_dim)
        np.testing.assert_allclose(latents[frame], z[0], atol=1e-6)
        np.testing.assert_allclose(images[frame], sampler.generate(z)[0], atol=1e-5)


def test_individual_pngs_and_a_grid_into_a_folder(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pngs"
    result = run_gantrain(
        "sample", f"run_dir={run_dir}", "num_samples=4", "grid=true", f"output={out}"
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["000000.png", "000001.png", "000002.png", "000003.png", "grid.png"]
    assert np.asarray(Image.open(out / "grid.png")).shape == (2 * 58 + 2, 2 * 58 + 2)


def test_export_matches_the_framework_generator(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "generator"
    result = run_gantrain("export", f"run_dir={run_dir}", f"output={out}")
    assert result.returncode == 0, result.stderr
    assert "serving_default: latent -> images (28, 28, 1)" in result.stderr
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    sampler, _, _ = load_sampler(str(run_dir))
    z = draw_latents(0, 8, sampler.latent_dim)
    images = serve(latent=tf.constant(z))["images"].numpy()
    np.testing.assert_allclose(images, sampler.generate(z), atol=1e-5)
    assert images.min() >= -1 and images.max() <= 1


def test_sample_mistakes_are_one_line(run_dir: Path, tmp_path: Path) -> None:
    result = run_gantrain(
        "sample", f"run_dir={run_dir}", "mode=classes", f"output={tmp_path / 'c.png'}"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: mode=classes: this run's generator is unconditional")
    assert "Traceback" not in result.stderr


def test_a_downloaded_run_dir_cannot_run_code(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    import yaml

    planted = tmp_path / "downloaded"
    shutil.copytree(run_dir, planted)
    marker = tmp_path / "pwned"
    config = yaml.safe_load((planted / "checkpoints" / "config.yaml").read_text())
    config["generator"] = {"_target_": "os.system", "command": f"touch {marker}"}
    (planted / "checkpoints" / "config.yaml").write_text(yaml.safe_dump(config))
    # One command as a user runs it (export and eval run_dir= read the config through the
    # same loader, each checked in-process by tests/unit/test_safety.py).
    result = run_gantrain("sample", f"run_dir={planted}", f"output={tmp_path / 'x.npz'}")
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "not one of gantrain's own builders" in last
    assert "generator._target_='os.system'" in last and "Traceback" not in result.stderr
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloaded"]
