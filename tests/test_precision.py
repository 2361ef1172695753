"""`model.dtype_policy: auto`: the decision table, and what a run records."""
import json
import os

import pytest

from bert2bert.config import ModelConfig, load_config
from bert2bert.precision import Hardware, decide_dtype_policy, resolve_dtype_policy
from tests.helpers import REPO

AVX2 = ("fpu", "sse4_2", "avx", "avx2", "fma", "f16c")  # e.g. an AMD EPYC (Zen 2/3)
SAPPHIRE_RAPIDS = AVX2 + ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
ZEN4 = AVX2 + ("avx512f", "avx512_bf16")


@pytest.mark.parametrize("hardware, override, policy", [
    (Hardware("cpu", cpu_flags=AVX2), None, "float32"),
    (Hardware("cpu", cpu_flags=AVX2 + ("avx512f",)), None, "float32"),  # AVX512 without BF16
    (Hardware("cpu", cpu_flags=ZEN4), None, "mixed_bfloat16"),
    (Hardware("cpu", cpu_flags=SAPPHIRE_RAPIDS), None, "mixed_bfloat16"),
    (Hardware("cpu", cpu_flags=SAPPHIRE_RAPIDS), "0", "float32"),  # override: never bf16
    (Hardware("cpu", cpu_flags=AVX2), "1", "mixed_bfloat16"),  # override: always bf16
    (Hardware("cpu", cpu_flags=()), None, "float32"),  # no /proc/cpuinfo (macOS, Windows)
    (Hardware("gpu", cpu_flags=AVX2, gpu_compute_capability=(8, 0)), None, "mixed_bfloat16"),
    (Hardware("gpu", cpu_flags=AVX2, gpu_compute_capability=(9, 0)), "0", "mixed_bfloat16"),
    (Hardware("gpu", cpu_flags=SAPPHIRE_RAPIDS, gpu_compute_capability=(7, 0)), None, "float32"),
    (Hardware("tpu"), None, "mixed_bfloat16"),
])
def test_auto_decision_table(hardware, override, policy):
    choice = decide_dtype_policy("auto", hardware, override)
    assert choice.policy == policy and choice.reason.startswith("auto: ")
    assert choice.requested == "auto" and choice.hardware == hardware


@pytest.mark.parametrize("explicit", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_an_explicit_policy_always_wins(explicit):
    for hardware in (Hardware("cpu", cpu_flags=AVX2), Hardware("tpu")):
        choice = decide_dtype_policy(explicit, hardware, "1")
        assert (choice.policy, choice.reason) == (explicit, "set in the config")


def test_auto_is_the_default_and_the_reason_names_the_cpu_flag():
    assert ModelConfig().dtype_policy == "auto"
    assert load_config(os.path.join(REPO, "configs", "experiments", "demo.yaml")
                       ).model.dtype_policy == "auto"
    choice = decide_dtype_policy("auto", Hardware("cpu", cpu_flags=ZEN4))
    assert "avx512_bf16" in choice.line()
    with pytest.raises(ValueError, match="unknown dtype policy"):
        decide_dtype_policy("bfloat16", Hardware())


def test_this_machine_is_read_from_proc_cpuinfo(monkeypatch):
    monkeypatch.delenv("BERT2BERT_NATIVE_BF16")
    choice = resolve_dtype_policy("auto")
    if os.path.exists("/proc/cpuinfo"):
        flags = open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0].split()
        assert set(choice.hardware.cpu_flags) == set(flags[1:])  # after the ":"
        native = {"amx_bf16", "avx512_bf16"} & set(flags)
        assert choice.policy == ("mixed_bfloat16" if native else "float32")


@pytest.mark.slow
def test_a_run_records_its_choice(tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke,  # smoke.yaml (dtype_policy auto) on a tiny checkpoint
                      ["train.train_steps=1", "train.batch_size=2", "task.max_source_length=16",
                       "task.max_target_length=8"])
    assert cfg.model.dtype_policy == "auto"
    train(cfg, str(tmp_path / "run"), progress=False)
    recorded = json.load(open(tmp_path / "run" / "precision.json"))
    assert recorded["requested"] == "auto" and recorded["policy"] == "float32"  # tests: BF16=0
    assert recorded["reason"] == "auto: BERT2BERT_NATIVE_BF16=0"
    saved = load_config(str(tmp_path / "run" / "config.yaml"))
    assert saved.model.dtype_policy == "float32"  # the run keeps what it was trained in
    longer = load_config(tiny_smoke,
                         ["train.train_steps=2", "train.batch_size=2",
                          "task.max_source_length=16", "task.max_target_length=8"])
    train(longer, str(tmp_path / "run"), progress=False)  # resumed: keeps its first record
    assert json.load(open(tmp_path / "run" / "precision.json")) == recorded
