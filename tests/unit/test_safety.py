"""Safety: no file a user downloaded can run code, no config value is run as code.

A scan of gantrain/ and scripts/ fails on any call that deserializes code (plain pickle, an
`allow_pickle=True` npz, an unsafe YAML load, a Keras model file loaded without
`safe_mode=True`) or evaluates strings (eval, exec). A restricted `pickle.Unpickler` subclass
that overrides `find_class` is the one allowed way to read pickles (CIFAR-10's python batches).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gantrain.config import build, load_run_config
from gantrain.errors import ConfigError
from gantrain.paths import inside_run_dir
from tests.conftest import REPO, compose_config

PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve"}
UNSAFE_YAML = {"unsafe_load", "full_load", "unsafe_load_all", "full_load_all"}
KERAS_LOADERS = {"load_model"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _unpickles(module: str, attr: str) -> bool:
    if attr == "read_pickle":  # pandas
        return True
    last = module.split(".")[-1]
    return (last in PICKLE_MODULES and attr in ("load", "loads", "Unpickler")) or (
        last == "marshal" and attr in ("load", "loads")
    )


def unsafe_calls(source: str) -> list[str]:
    """Descriptions (`line: what`) of every unsafe deserialization or evaluation in `source`."""
    tree = ast.parse(source)
    found = []
    # Unpickler subclasses that restrict what they load (override find_class) are allowed.
    unrestricted = {"Unpickler"} | {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(_dotted(b).endswith("Unpickler") for b in node.bases)
        and not any(isinstance(f, ast.FunctionDef) and f.name == "find_class" for f in node.body)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        module, _, attr = name.rpartition(".")
        where = f"{node.lineno}: {name}"
        if name in ("eval", "exec", "compile", "__import__"):
            found.append(f"{where} evaluates a string as code")
        elif _unpickles(module, attr):
            found.append(f"{where} unpickles without restricting what it loads")
        elif name.endswith(("np.load", "numpy.load")) and _is_true(_keyword(node, "allow_pickle")):
            found.append(f"{where} allows pickles in an npy/npz file")
        elif module.endswith("yaml") and (
            attr in UNSAFE_YAML
            or (attr in ("load", "load_all") and "Safe" not in _dotted(_keyword(node, "Loader")))
        ):
            found.append(f"{where} loads YAML that may construct Python objects")
        elif attr in KERAS_LOADERS and not _is_true(_keyword(node, "safe_mode")):
            found.append(f"{where} loads a Keras model file without safe_mode=True")
        elif attr == "enable_unsafe_deserialization":
            found.append(f"{where} turns Keras's safe mode off")
        elif (
            attr == "register_new_resolver"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in ("eval", "python", "exec")
        ):
            found.append(f"{where} lets configs run code")
        elif isinstance(node.func, ast.Name) and node.func.id in unrestricted:
            found.append(f"{where} unpickles without restricting what it loads")
    return found


def _sources() -> list[Path]:
    return sorted([*(REPO / "gantrain").rglob("*.py"), *(REPO / "scripts").rglob("*.py")])


def test_no_source_file_deserializes_or_evaluates_code() -> None:
    problems = [
        f"{path.relative_to(REPO)}:{problem}"
        for path in _sources()
        for problem in unsafe_calls(path.read_text(encoding="utf-8"))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.load(open('x', 'rb'))",
        "import pickle\nobj = pickle.loads(data)",
        "import pickle\npickle.Unpickler(f).load()",
        "import numpy as np\nnp.load('x.npz', allow_pickle=True)",
        "import yaml\nyaml.load(text, Loader=yaml.Loader)",
        "import yaml\nyaml.unsafe_load(text)",
        "import keras\nkeras.models.load_model('m.keras', safe_mode=False)",
        "import keras\nkeras.saving.load_model('m.keras')",
        "import keras\nkeras.config.enable_unsafe_deserialization()",
        "value = eval(cfg.expr)",
        "from omegaconf import OmegaConf\nOmegaConf.register_new_resolver('eval', eval)",
        "import pandas as pd\npd.read_pickle('x')",
        "from pickle import Unpickler\nUnpickler(f).load()",
        "import pickle\nclass Open(pickle.Unpickler):\n    pass\nOpen(f).load()",
    ],
)
def test_the_scan_finds_each_unsafe_call(source: str) -> None:
    assert len(unsafe_calls(source)) == 1, unsafe_calls(source)


def test_the_scan_allows_the_safe_forms() -> None:
    source = """
import pickle, numpy as np, yaml, keras

class ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(name)

ArrayUnpickler(stream).load()
np.load("x.npz", allow_pickle=False)
np.load("x.npz")
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
keras.models.load_model("m.keras", safe_mode=True)
model.load_weights("m.weights.h5")
"""
    assert unsafe_calls(source) == []


PAYLOAD = "__import__('os').system('touch /tmp/gantrain-pwned')"


def test_config_values_are_data_not_code() -> None:
    # A string where a number belongs is a type error, never evaluated.
    with pytest.raises(ConfigError, match="trainer.seed"):
        load_run_config(compose_config(overrides=[f'trainer.seed="{PAYLOAD}"']))
    run = load_run_config(compose_config(overrides=[f'optimizer.generator.lr="{PAYLOAD}"']))
    with pytest.raises(ConfigError, match="optimizer.generator: .* rejected its arguments"):
        build(run.optimizer_generator, "optimizer.generator")
    run = load_run_config(compose_config(overrides=[f'trainer.resume="{PAYLOAD}"']))
    assert run.trainer.resume == PAYLOAD  # a path to look for, nothing more
    assert not Path("/tmp/gantrain-pwned").exists()


def test_no_config_resolver_runs_code() -> None:
    from omegaconf import OmegaConf

    import gantrain.cli  # noqa: F401  (everything a command line registers)

    for name in ("eval", "python", "exec"):
        assert not OmegaConf.has_resolver(name)


@pytest.mark.parametrize("name", ["../x.jsonl", "/tmp/x.jsonl", "a/../../x.jsonl", ""])
def test_config_file_names_cannot_leave_the_run_dir(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="would write outside the run dir"):
        inside_run_dir(tmp_path / "run", name, "some.key")
    assert inside_run_dir(tmp_path, "stats.jsonl", "k") == tmp_path.resolve() / "stats.jsonl"


def test_metric_files_stay_in_the_run_dir(tmp_path: Path) -> None:
    from gantrain.eval.runner import append_metric_files

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(ConfigError, match=r"eval\.x/\.\./\.\./evil"):
        append_metric_files(run_dir, 1, {"x/../../evil": {"m": 1.0}}, {})
    assert not list(tmp_path.rglob("*.jsonl"))
    append_metric_files(run_dir, 1, {"fid": {"fid": 1.0}}, {})
    assert (run_dir / "metric-fid.jsonl").exists()
