"""Safety: no file a user downloaded can run code, no config value is run as code.

A scan of gantrain/ and scripts/ fails on any call that deserializes code (plain pickle, an
`allow_pickle=True` npz, an unsafe YAML load, a Keras model file loaded without
`safe_mode=True`) or evaluates strings (eval, exec). A restricted `pickle.Unpickler` subclass
that overrides `find_class` is the one allowed way to read pickles (CIFAR-10's python batches).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from gantrain.config import build, load_run_config
from gantrain.errors import ConfigError
from gantrain.paths import inside_run_dir
from tests.conftest import REPO, TINY, compose_config

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


# A run dir is data: its config names `_target_`s that `sample`, `export` and `eval run_dir=`
# would import and call. Each case changes a real run's config so that building it (or, for
# the YAML tag, parsing it) would run `touch MARKER`; "generator target" did, before the check.
PLANTED = ("generator target", "nested target", "dataset target", "yaml python tag")


def _planted(config: dict, case: str, marker: Path) -> str:
    command = f"touch {marker}"
    config = {**config}
    if case == "generator target":
        config["generator"] = {"_target_": "os.system", "command": command}
    elif case == "nested target":
        config["loss"] = {**config["loss"], "extra": {"_target_": "os.system", "command": command}}
    elif case == "dataset target":
        config["dataset"] = {"_target_": "subprocess.getoutput", "cmd": command}
    else:
        config["generator"] = "TAG"
    text = yaml.safe_dump(config)
    return text.replace(
        "generator: TAG", f"generator: !!python/object/apply:os.system ['{command}']"
    )


def _plant(run_dir: Path, text: str, where: str) -> None:
    path = run_dir / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_mnist: Path) -> Path:
    """A real (tiny) run dir at step 2, copied by each test before it plants a config."""
    from gantrain.training.loop import train

    path = tmp_path_factory.mktemp("trained") / "run"
    overrides = [*TINY, f"dataset.path={tiny_mnist}", "trainer.max_steps=2"]
    train(load_run_config(compose_config(overrides=overrides)), path)
    return path


def _planted_copy(trained_run: Path, tmp_path: Path, case: str, where: str) -> tuple[Path, Path]:
    """(a copy of the run dir whose config at `where` is planted, the marker it would touch)."""
    import shutil

    run_dir, marker = tmp_path / "downloaded", tmp_path / "pwned"
    shutil.copytree(trained_run, run_dir)
    config = yaml.safe_load((run_dir / "checkpoints" / "config.yaml").read_text())
    for name in ("checkpoints/config.yaml", ".hydra/config.yaml"):
        (run_dir / name).unlink(missing_ok=True)
    _plant(run_dir, _planted(config, case, marker), where)
    return run_dir, marker


@pytest.mark.parametrize("where", ["checkpoints/config.yaml", ".hydra/config.yaml"])
@pytest.mark.parametrize("case", PLANTED)
def test_sample_export_and_eval_refuse_a_run_dir_config_that_names_code(
    trained_run: Path, tmp_path: Path, case: str, where: str
) -> None:
    from gantrain.tasks.evaluate import score_run
    from gantrain.tasks.sample import load_sampler

    run_dir, marker = _planted_copy(trained_run, tmp_path, case, where)
    expected = "Python tags" if case == "yaml python tag" else "not one of gantrain's own builders"
    # `sample` and `export` load the generator through load_sampler; `eval run_dir=` too.
    with pytest.raises(ConfigError, match=expected) as info:
        load_sampler(str(run_dir))
    assert "\n" not in str(info.value) and where in str(info.value)
    cfg = compose_config("evaluate", [f"run_dir={run_dir}", "eval=[fid]"])
    with pytest.raises(ConfigError, match=expected):
        score_run(cfg, None)
    assert not marker.exists()


def test_training_from_a_planted_run_dir_never_reads_its_config(
    trained_run: Path, tmp_path: Path, tiny_mnist: Path
) -> None:
    # trainer.resume=PATH takes only the checkpoint's numbers: the models come from the
    # command line's config, so a planted config is never built.
    import shutil

    from gantrain.training.loop import train

    run_dir, marker = _planted_copy(trained_run, tmp_path, "generator target", ".hydra/config.yaml")
    shutil.copy(run_dir / ".hydra" / "config.yaml", run_dir / "checkpoints" / "config.yaml")
    overrides = [*TINY, f"dataset.path={tiny_mnist}", f"trainer.resume={run_dir}"]
    result = train(load_run_config(compose_config(overrides=overrides)), tmp_path / "new")
    assert result.resumed_from == str(run_dir / "checkpoints" / "ckpt-2") and result.step == 4
    assert not marker.exists()


def test_gantrains_own_configs_pass_and_trusted_prefixes_extend_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from omegaconf import OmegaConf

    from gantrain.run_dir_config import TRUST_ENV, check_targets, packaged_targets

    overrides = ["generator=resnet", "loss=hinge", "regularizer=[r1]", "strategy=mirrored"]
    check_targets(compose_config(overrides=overrides), "run")
    check_targets(compose_config(overrides=["experiment=sngan_cifar10"]), "run")
    assert "gantrain.models.generators.dcgan.build_dcgan_generator" in packaged_targets()
    assert not any(t.startswith(("os.", "subprocess.", "builtins.")) for t in packaged_targets())
    # Your own builders (trained with generator._target_=mine.build): trusted on request.
    mine = OmegaConf.create({"generator": {"_target_": "mine.models.build"}})
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"{TRUST_ENV}=<module prefix>"):
        check_targets(mine, "run")
    monkeypatch.setenv(TRUST_ENV, "other., mine.models.")
    check_targets(mine, "run")
    # A prefix is a dotted path prefix, not a way around the check for everything.
    with pytest.raises(ConfigError):
        check_targets(OmegaConf.create({"generator": {"_target_": "os.system"}}), "run")


def test_the_yaml_loader_never_constructs_python_objects(tmp_path: Path) -> None:
    # OmegaConf's loader is a yaml.SafeLoader subclass; check it stays one.
    from omegaconf._utils import get_yaml_loader

    from gantrain.run_dir_config import read_config_file

    assert issubclass(get_yaml_loader(), yaml.SafeLoader)
    marker = tmp_path / "pwned"
    for tag in ("python/object/apply:os.system", "python/object/new:os.system"):
        path = tmp_path / "config.yaml"
        path.write_text(f"trainer: !!{tag} ['touch {marker}']\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"config.yaml: not a plain YAML config"):
            read_config_file(path)
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a YAML mapping"):
        read_config_file(path)
    assert not marker.exists()


def test_a_torn_last_stats_line_is_repaired_on_resume(
    trained_run: Path, tmp_path: Path, tiny_mnist: Path
) -> None:
    import shutil

    from gantrain.logging.stats import read_jsonl
    from gantrain.training.loop import train

    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    stats = run_dir / "stats.jsonl"
    with stats.open("a", encoding="utf-8") as file:
        file.write('{"step": 3, "g_loss": 0.7')  # the crash came mid-write
    with (run_dir / "run_info.jsonl").open("a", encoding="utf-8") as file:
        file.write('{"started": "2026')
    overrides = [*TINY, f"dataset.path={tiny_mnist}"]
    train(load_run_config(compose_config(overrides=overrides)), run_dir)
    lines = stats.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4]  # every line parses
    assert [r["step"] for r in read_jsonl(stats)] == [2, 4]
    launches = (run_dir / "run_info.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["resumed_from"] for line in launches][-1].endswith("ckpt-2")
    assert len(launches) == 2


@pytest.mark.parametrize(
    ("content", "repaired"),
    [
        (b'{"step": 2}\n{"step": 4, "g_lo', b'{"step": 2}\n'),
        (b'{"step": 2}\n{"step": 4}', b'{"step": 2}\n{"step": 4}\n'),  # only the break lost
        (b'{"step": 2', b""),
        (b'{"step": 2}\n\xff\xfe', b'{"step": 2}\n'),
        (b'{"step": 2}\n4', b'{"step": 2}\n'),  # parses, but is not a record
        (b'{"step": 2}\n', b'{"step": 2}\n'),
        (b"", b""),
    ],
)
def test_repair_torn_tail(tmp_path: Path, content: bytes, repaired: bytes) -> None:
    from gantrain.logging.stats import JsonlWriter, repair_torn_tail

    path = tmp_path / "metric-fid.jsonl"
    path.write_bytes(content)
    assert repair_torn_tail(path) is (content != repaired)
    assert path.read_bytes() == repaired
    writer = JsonlWriter(path)  # what every appender opens the file with
    writer.write({"step": 6})
    writer.close()
    assert path.read_bytes() == repaired + b'{"step": 6}\n'
