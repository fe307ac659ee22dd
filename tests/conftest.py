"""Shared fixtures: composed configs with tiny models, a tiny MNIST file, subprocess runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from gantrain.distribute import configure_cpu_devices

# Two logical CPU devices for the whole session, set before any TensorFlow op (TensorFlow
# refuses once it has started): MirroredStrategy tests run in-process on them. Everything
# else keeps running on the first one.
configure_cpu_devices(2, "tests/conftest.py")

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout holds real datasets for tests (never the network).
SHARED_DATASETS = Path(
    os.environ.get("GANTRAIN_SHARED_DATASETS", REPO.parent / "shared" / "datasets")
)

# Tiny models and intervals: a few steps take well under a second once traced.
TINY = [
    "generator.widths=[32,16,8]",
    "generator.latent_dim=16",
    "discriminator.widths=[8,16]",
    "trainer.batch_size=16",
    "trainer.max_steps=4",
    "trainer.log_every=2",
    "trainer.sample_every=2",
    "trainer.checkpoint_every=2",
    "trainer.standing_stats=64",
    "logging.sample_grid=4",
    "logging.progress_bar=false",
]


def compose_config(config_name: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """Compose a gantrain config as the CLI would (without running the task)."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


# MirroredStrategy over the session's two logical CPU devices.
MIRRORED = ["strategy=mirrored", "strategy.num_cpu_devices=2"]
# generator=stylegan2 discriminator=stylegan2 at test size (8 channels, 8-d latents and ws).
TINY_STYLEGAN2 = [
    "generator=stylegan2",
    "discriminator=stylegan2",
    "generator.latent_dim=8",
    "generator.w_dim=8",
    "generator.channel_base=64",
    "generator.channel_max=8",
    "discriminator.channel_base=64",
    "discriminator.channel_max=8",
]


@pytest.fixture(scope="session", autouse=True)
def _eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Evaluation caches (reference statistics, classifiers) go to a temporary folder, never
    to the user's ~/.cache/gantrain; subprocesses inherit the variable."""
    previous = os.environ.get("GANTRAIN_CACHE")
    os.environ["GANTRAIN_CACHE"] = str(tmp_path_factory.mktemp("gantrain-cache"))
    yield
    if previous is None:
        os.environ.pop("GANTRAIN_CACHE", None)
    else:
        os.environ["GANTRAIN_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-MNIST npz in the Keras layout with 256 train and 64 test digits."""
    from gantrain.data.mnist import packaged_mnist_path

    path = tmp_path_factory.mktemp("data") / "mnist_tiny.npz"
    with np.load(packaged_mnist_path()) as full:
        np.savez(
            path,
            x_train=full["x_train"][:256],
            y_train=full["y_train"][:256],
            x_test=full["x_test"][:64],
            y_test=full["y_test"][:64],
        )
    return path


def write_tiny_cifar10(root: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    """CIFAR-10's release layout in miniature: root/cifar-10-batches-py/ and
    root/cifar-10-python.tar.gz with `per_batch` random images per batch, labels
    (offset + i) % 10, pickled with protocols 2 to 4. Returns {batch: (images, labels)}."""
    import io
    import pickle
    import tarfile

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    truth = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as archive:
        for i, name in enumerate(names):
            offset = i * per_batch
            images = np.random.default_rng(i).integers(0, 256, (per_batch, 32, 32, 3), np.uint8)
            labels = [(offset + k) % 10 for k in range(per_batch)]
            flat = images.transpose(0, 3, 1, 2).reshape(per_batch, -1)  # R, G, B planes
            payload = {b"batch_label": b"tiny", b"labels": labels, b"data": flat}
            data = pickle.dumps(payload, protocol=2 + i % 3)
            (folder / name).write_bytes(data)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            truth[name] = (images, labels)
    return truth


@pytest.fixture(scope="session")
def tiny_cifar10(tmp_path_factory: pytest.TempPathFactory):
    """(root, truth) of a tiny CIFAR-10 written by write_tiny_cifar10."""
    root = tmp_path_factory.mktemp("cifar10")
    return root, write_tiny_cifar10(root)


@pytest.fixture(scope="session")
def tiny_image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 16 random 32x32 RGB PNGs (unlabeled): tiny data for dataset=image_folder
    recipes, at a power-of-two side as StyleGAN2 needs (MNIST's 28 is not)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("image_folder")
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(root / f"{i:02d}.png")
    return root


@pytest.fixture
def tiny_overrides(tiny_mnist: Path) -> list[str]:
    return [*TINY, f"dataset.path={tiny_mnist}"]


@pytest.fixture
def tiny_cfg(tiny_overrides: list[str]) -> Iterator[DictConfig]:
    yield compose_config("train", tiny_overrides)


def run_gantrain(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`python -m gantrain ARGS` in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "gantrain", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        check=False,
    )


def assert_resume_is_exact(
    run: Callable[[Path], None], tmp_path: Path, keys: Sequence[str]
) -> tuple[dict[int, list[float]], dict[int, list[float]], Path]:
    """Exact resume after a crash, with a 4-step run checkpointed every 2 steps.

    `run(run_dir)` trains to step 4. It runs once straight; a copy of that run dir loses its
    ckpt-4 (a crash after step 2's checkpoint) and a second run resumes the copy from ckpt-2
    to step 4 (a copy, not a second straight run: tracing these graphs is most of the time).
    Asserts the resume started from ckpt-2 and that `keys` of
    stats.jsonl equal the straight run's at every step; returns (straight, resumed) as
    {step: [values of keys]} and the resumed run dir for further checks.
    """
    import shutil

    from gantrain.logging.stats import read_jsonl

    run(tmp_path / "straight")
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(tmp_path / "straight", resumed_dir)
    for path in (resumed_dir / "checkpoints").glob("ckpt-4*"):
        path.unlink()
    (resumed_dir / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n'
    )
    run(resumed_dir)
    assert read_jsonl(resumed_dir / "run_info.jsonl")[-1]["resumed_from"].endswith("ckpt-2")
    straight, resumed = (
        {r["step"]: [r[k] for k in keys] for r in read_jsonl(tmp_path / d / "stats.jsonl")}
        for d in ("straight", "resumed")
    )
    assert sorted(resumed) == [1, 2, 3, 4]
    for step in range(1, 5):
        np.testing.assert_allclose(resumed[step], straight[step], rtol=1e-5, err_msg=f"step {step}")
    return straight, resumed, resumed_dir
