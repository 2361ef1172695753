"""Typed configs: every shipped file loads; mistakes give one-line errors naming the key."""
import glob
import os

import pytest

from bert2bert import grid
from bert2bert.cli import main
from bert2bert.config import ConfigError, load_config
from tests.helpers import REPO

CONFIG_FILES = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True))


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: os.path.relpath(p, REPO))
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.model.variant in grid.VARIANTS


def test_one_model_config_per_variant_and_the_papers_tasks():
    names = {os.path.basename(p)[:-5] for p in CONFIG_FILES if "/models/" in p}
    assert names == set(grid.VARIANT_NAMES)
    tasks = {os.path.basename(p)[:-5]: load_config(p).task for p in CONFIG_FILES if "/tasks/" in p}
    lengths = {name: (t.max_source_length, t.max_target_length) for name, t in tasks.items()}
    assert lengths == {"discofuse": (128, 128), "wikisplit": (128, 128), "wmt14_en_de": (128, 128),
                       "wmt14_de_en": (128, 128), "cnn_dailymail": (512, 128), "xsum": (512, 64),
                       "gigaword": (128, 32)}
    batches = {os.path.basename(p)[:-5]: load_config(p).train.batch_size
               for p in CONFIG_FILES if "/tasks/" in p}
    assert batches == {"discofuse": 256, "wikisplit": 256, "wmt14_en_de": 256, "wmt14_de_en": 256,
                       "cnn_dailymail": 128, "xsum": 128, "gigaword": 256}


def test_paper_optimizer_settings():
    opt = load_config(os.path.join(REPO, "configs/optimizers/paper_adam.yaml")).optimizer
    assert (opt.name, opt.learning_rate, opt.warmup_steps, opt.schedule) == (
        "adam", 0.05, 40000, "paper_rsqrt")


def test_includes_and_overrides(tmp_path):
    write(tmp_path, "model: {variant: gpt, num_layers: 3}\ntrain: {batch_size: 8}\n", "base.yaml")
    path = write(tmp_path, "include: [base.yaml]\nmodel: {num_layers: 5}\n")
    cfg = load_config(path, ["model.encoder.hidden_size=48", "train.label_smoothing=0.1"])
    assert cfg.model.variant == "gpt" and cfg.model.num_layers == 5
    assert cfg.train.batch_size == 8 and cfg.train.label_smoothing == 0.1
    assert cfg.model.encoder.hidden_size == 48
    assert load_config(path, ["model.num_layers=4"]).model.num_layers == 4


@pytest.mark.parametrize("override,fragment", [
    ("model.num_layer=4", "unknown key 'model.num_layer'; valid keys:"),
    ("modle.variant=gpt", "unknown key 'modle'; valid keys: decode, model, optimizer, task, train"),
    ("model.encoder.hiden_size=3", "unknown key 'model.encoder.hiden_size'"),
    ("model.num_layers=four", "'model.num_layers' must be int, got str 'four'"),
    ("train.batch_size=true", "'train.batch_size' must be int, got bool"),
    ("model.variant=bert2bart", "'model.variant' is 'bert2bart'; valid choices: rnd2rnd, bert2rnd"),
    ("model.size=huge", "'model.size' is 'huge'; valid choices: base, large"),
    ("task.metrics=[bleu, meteor]", "'task.metrics[1]' is 'meteor'; valid choices:"),
    ("model.dropout", "must look like section.key=value"),
])
def test_errors_name_the_key(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_error_names_the_file(tmp_path):
    path = write(tmp_path, "model:\n  variant: bert2bert\n  hiden_size: 4\n")
    with pytest.raises(ConfigError, match=r"in .*c\.yaml: unknown key 'model\.hiden_size'"):
        load_config(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(str(tmp_path / "missing.yaml"))
    cyc = write(tmp_path, "include: [c2.yaml]\n", "c1.yaml")
    write(tmp_path, "include: [c1.yaml]\n", "c2.yaml")
    with pytest.raises(ConfigError, match="include cycle"):
        load_config(cyc)


def test_cli_reports_config_errors_in_one_line(capsys):
    assert main(["config", "--set", "model.variant=bert2bart"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bert2bert: config error") and "bert2bart" in err and "\n" not in err


def test_cli_prints_resolved_config(capsys):
    assert main(["config", "--set", "model.variant=bertShare", "--set", "model.num_layers=4"]) == 0
    out = capsys.readouterr().out
    assert "variant: bertShare" in out and "num_layers: 4" in out


def test_yaml_exponent_without_dot_is_a_float_but_words_are_not():
    from bert2bert.config import ConfigError, load_config

    assert load_config(None, ["optimizer.learning_rate=3e-4"]).optimizer.learning_rate == 3e-4
    with pytest.raises(ConfigError, match="learning_rate' must be float"):
        load_config(None, ["optimizer.learning_rate=fast"])
