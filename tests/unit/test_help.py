"""`gantrain <command> --help`: one line per group and key, from the shipped YAML comments."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from gantrain import cli
from gantrain.help import KeyDoc, _parse, group_docs, help_text, key_docs
from gantrain.overrides import _compose


def compose_config(config_name: str, overrides: list[str]):
    """The config as Hydra's --help composes it: with the `hydra` node (its choices)."""
    return _compose(config_name, overrides, hydra=True)


def _lines_for(text: str, key: str) -> list[str]:
    """The lines of a help text that document `key` (`  key=value  what it does`)."""
    return [line for line in text.splitlines() if re.match(rf"^  {re.escape(key)}=\S*", line)]


def _described(text: str, key: str) -> str:
    (line,) = _lines_for(text, key)
    return line.split("  ", 2)[-1].strip() if line.count("  ") >= 2 else ""


def test_the_parser_reads_every_kind_of_comment() -> None:
    parsed = _parse(
        "# The file's own summary,\n"
        "# over two lines.\n"
        "defaults:\n"
        "  - generator: dcgan   # the generator\n"
        "  # the block above a group\n"
        "  - optional experiment: null\n"
        "\n"
        "steps: 10      # how many steps; a comment that\n"
        "               # goes on under its own column\n"
        "# Above a key: kept line by line,\n"
        "#   indentation and all.\n"
        "mode: a\n"
        "plain: 1\n"
        "nested:\n"
        "  inner: x    # a nested key\n"
        "url: http://x/#anchor   # a `#` inside a value is not a comment\n"
    )
    assert parsed.header == ["The file's own summary,", "over two lines."]
    assert parsed.groups["generator"] == KeyDoc("generator", "dcgan", "the generator")
    assert parsed.groups["experiment"].summary == "the block above a group"
    assert parsed.keys["steps"] == KeyDoc(
        "steps", "10", "how many steps; a comment that goes on under its own column"
    )
    assert parsed.keys["mode"].above == (
        "Above a key: kept line by line,",
        "  indentation and all.",
    )
    assert parsed.keys["plain"] == KeyDoc("plain", "1")
    assert parsed.keys["nested.inner"].comment == "a nested key"
    assert parsed.keys["url"].value == "http://x/#anchor"


def test_train_help_has_one_described_line_per_group_and_trainer_key() -> None:
    cfg = compose_config("train", [])
    text = help_text("train", cfg)
    groups = [g for g in group_docs("train.yaml") if not g.startswith("override")]
    assert "generator" in groups and "trainer" in groups
    for group in groups:
        if group == "_self_":
            continue
        assert _described(text, group), f"group {group} has no description in train.yaml"
    # Every trainer and logging key the schema knows, each described by its YAML comment: a
    # key added without a comment fails here, so the help cannot fall behind the config.
    for section in ("trainer", "logging"):
        for key in cfg[section]:
            assert _described(text, f"{section}.{key}"), f"{section}.{key}: no YAML comment"
    assert "trainer.max_steps=10000" in text and "generator updates" in text


def test_help_shows_the_composed_values() -> None:
    cfg = compose_config("train", ["experiment=wgan_gp_mnist", "trainer.max_steps=7"])
    text = help_text("train", cfg)
    assert _lines_for(text, "trainer.max_steps")[0].startswith("  trainer.max_steps=7 ")
    assert _lines_for(text, "trainer.n_critic")[0].startswith("  trainer.n_critic=5 ")
    assert _lines_for(text, "loss")[0].startswith("  loss=wgan_gp ")
    assert _lines_for(text, "experiment")[0].startswith("  experiment=wgan_gp_mnist ")


@pytest.mark.parametrize(
    ("config_name", "documented"),
    [("sample", True), ("report", True), ("evaluate", True), ("export", True)],
)
def test_other_commands_list_only_their_own_keys(config_name: str, documented: bool) -> None:
    cfg = compose_config(config_name, [])
    text = help_text(config_name, cfg)
    own = [str(k) for k in cfg if k not in ("dataset", "eval", "hydra")]
    listed = {m.group(1) for m in re.finditer(r"^  ([\w.@/]+)=", text, re.MULTILINE)}
    groups = {g for g in group_docs(f"{config_name}.yaml") if not g.startswith("override")}
    eval_keys = (
        {f"eval.{k}" for k in key_docs("eval/settings/default.yaml")}
        if ("eval/settings" in groups)
        else set()
    )
    assert listed == set(own) | (groups - {"_self_"}) | eval_keys
    for key in own:
        doc = key_docs(f"{config_name}.yaml")[key]
        assert doc.summary or not documented, f"{config_name}.yaml: {key} has no comment"
    assert "trainer." not in text and "generator=" not in text  # not train's keys


def test_sample_help_explains_each_mode() -> None:
    text = help_text("sample", compose_config("sample", []))
    mode = text.split("\n  mode=samples", 1)[1]
    for name in ("samples:", "classes:", "interpolate:"):
        assert f"      {name}" in mode.split("\n  num_samples=")[0], name
    assert _lines_for(text, "output")[0].startswith("  output=???")


def test_the_help_override_joins_the_other_overrides() -> None:
    # Hydra's argparse takes the overrides as one run: a flag may not split them.
    assert cli.with_override(["a=1", "--help", "b=2"], "x=y") == ["--help", "x=y", "a=1", "b=2"]
    assert cli.with_override(["--config-dir", "d", "--help"], "x=y") == [
        "--config-dir",
        "d",
        "--help",
        "x=y",
    ]


def test_the_help_template_is_plain_hydra_config() -> None:
    cfg = compose_config("train", ["hydra/help=gantrain"])
    assert OmegaConf.is_config(cfg)  # composes: the option exists where Hydra looks for it
