"""The Python API's cheap contracts: `import gantrain` stays light, errors are gantrain's own
one-line exceptions with the CLI's messages (never SystemExit), the notebook progress bar."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import gantrain
from gantrain.errors import CheckpointError, ConfigError, GantrainError
from tests.conftest import REPO, TINY


def test_import_gantrain_loads_no_tensorflow_keras_or_hydra() -> None:
    heavy = "('tensorflow', 'keras', 'hydra', 'omegaconf', 'numpy')"
    code = (
        f"import sys; loaded = lambda: [m for m in {heavy} if m in sys.modules]; "
        "import gantrain; print(loaded()); gantrain.compose; print(loaded())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    # The API module itself needs omegaconf and numpy; TensorFlow and Hydra wait for a call.
    assert out.stdout.splitlines() == ["[]", "['omegaconf', 'numpy']"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["generator=dcgna"], "unknown generator 'dcgna'; valid options: cdcgan, cmlp, cresnet"),
        (["trainer.batch_size=0"], "trainer.batch_size=0: must be a positive number."),
        (
            ["trainer.max_stepz=3"],
            "trainer.max_stepz: unknown key. Valid keys of trainer: max_steps",
        ),
        (["optimizer.discriminator.lr=-1"], None),  # checked when the optimizer is built
    ],
)
def test_compose_raises_the_cli_one_line_errors(overrides: list[str], message: str | None) -> None:
    if message is None:
        assert gantrain.compose(overrides).optimizer.discriminator.lr == -1
        return
    from gantrain.cli import check_group_choices

    with pytest.raises(ConfigError) as info:
        gantrain.compose(overrides)
    text = str(info.value)
    assert message.split(": ")[0] in text and "\n" not in text
    # The CLI's line for the same mistake, without its program-name prefix.
    cli_line = check_group_choices(overrides) or f"error: {text}"
    assert cli_line.split(": ", 1)[1] == text
    if "dcgna" not in message:
        assert text.startswith(message)


def test_compose_returns_the_config_the_cli_composes() -> None:
    from tests.conftest import compose_config

    cfg = gantrain.compose([*TINY, "loss=hinge"])
    assert cfg == compose_config(overrides=[*TINY, "loss=hinge"])
    assert "hydra" not in cfg


def test_train_errors_are_exceptions_not_exits(tmp_path: Path, tiny_mnist: Path) -> None:
    with pytest.raises(ConfigError, match="unknown generator 'dcgna'"):
        gantrain.train(["generator=dcgna"], run_dir=tmp_path / "a")
    assert not (tmp_path / "a").exists()  # refused before Hydra made the run dir
    with pytest.raises(ConfigError, match="give a config from gantrain.compose"):
        gantrain.train("trainer.max_steps=3")
    # A config error found by the train task: the run dir's log holds its traceback, as the
    # CLI's does; the caller gets the exception.
    cfg = gantrain.compose([*TINY, f"dataset.path={tiny_mnist}", "generator.widths=[8,8,8,8,8,8]"])
    with pytest.raises(ConfigError, match="cannot produce 28x28 images"):
        gantrain.train(cfg, run_dir=tmp_path / "b")
    assert "Traceback" in (tmp_path / "b" / "train.log").read_text()


def test_load_and_evaluate_errors(tmp_path: Path) -> None:
    with pytest.raises(GantrainError):
        gantrain.load(tmp_path / "no_run")
    with pytest.raises(CheckpointError, match="no such .keras file"):
        gantrain.load(tmp_path / "missing.keras")
    with pytest.raises(ConfigError, match="labels= goes with images given as an array"):
        gantrain.evaluate(tmp_path / "x.npz", labels=np.zeros(3))
    with pytest.raises(ConfigError, match="protocol=3"):
        gantrain.evaluate(np.zeros((2, 28, 28, 1)), protocol=3)
    with pytest.raises(ConfigError, match="unknown key"):
        gantrain.evaluate(np.zeros((2, 28, 28, 1)), protocol={"num_sampels": 5})


def test_the_progress_bar_shows_in_a_notebook(monkeypatch) -> None:
    from gantrain.training import callbacks

    assert not callbacks.in_notebook()
    kernel = SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: kernel))
    assert callbacks.in_notebook()
    logger = SimpleNamespace(last_record={})
    bar = callbacks.ProgressBar(logger, start_step=0, max_steps=10, enabled=True)
    try:
        assert not bar.bar.disable and not bar._log_lines
    finally:
        bar.close()
    terminal = SimpleNamespace(config={"TerminalIPythonApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: terminal))
    assert not callbacks.in_notebook()
