"""Which dtype policy a run uses: `model.dtype_policy: auto` decided from the hardware.

    >>> decide_dtype_policy("auto", Hardware(accelerator="cpu", cpu_flags=("avx2", "fma"))).policy
    'float32'
    >>> decide_dtype_policy("auto", Hardware(accelerator="cpu", cpu_flags=("avx512_bf16",))).policy
    'mixed_bfloat16'
    >>> decide_dtype_policy("mixed_float16", Hardware(accelerator="tpu")).reason
    'set in the config'

`mixed_bfloat16` pays only where bfloat16 arithmetic is native: TPUs, GPUs of compute
capability 8.0 or above, and CPUs with AMX-BF16 or AVX512-BF16. Elsewhere (an AVX2-only CPU,
say) TensorFlow emulates bfloat16 and a step is several times slower than in float32, so
`auto` picks float32. `BERT2BERT_NATIVE_BF16=1` (or `0`) overrides the CPU detection.
"""
import dataclasses
import os
import platform
from typing import Optional, Tuple

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
OVERRIDE_ENV = "BERT2BERT_NATIVE_BF16"


@dataclasses.dataclass(frozen=True)
class Hardware:
    """What the decision looks at."""

    accelerator: str = "cpu"  # "cpu", "gpu" or "tpu"
    cpu_model: str = ""
    cpu_flags: Tuple[str, ...] = ()
    gpu_compute_capability: Optional[Tuple[int, int]] = None  # the lowest of the GPUs


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """The policy chosen and why (recorded in the run directory as `precision.json`)."""

    requested: str
    policy: str
    reason: str
    hardware: Hardware

    def to_dict(self):
        return dataclasses.asdict(self)

    def line(self) -> str:
        return f"dtype policy: {self.policy} ({self.reason})"


def cpu_info() -> Tuple[str, Tuple[str, ...]]:
    """(model name, flags) of this machine's CPU, from /proc/cpuinfo where there is one."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or ""
    flags = tuple(fields.get("flags", "").split())
    return model, flags


def detect_hardware(strategy_name: str = "default") -> Hardware:
    """The accelerator the run will use (TPU when asked for, else a visible GPU, else CPU)."""
    model, flags = cpu_info()
    if strategy_name == "tpu":
        return Hardware("tpu", model, flags)
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    if capabilities:
        return Hardware("gpu", model, flags, min(capabilities))
    return Hardware("cpu", model, flags)


def decide_dtype_policy(requested: str, hardware: Hardware,
                        override: Optional[str] = None) -> PrecisionChoice:
    """The dtype policy for `requested` ("auto" or one of POLICIES) on `hardware`.

    `override` is the value of BERT2BERT_NATIVE_BF16 ("1"/"0"), forcing the CPU answer."""
    if requested != "auto":
        if requested not in POLICIES:
            raise ValueError(f"unknown dtype policy {requested!r}; valid: auto, "
                             + ", ".join(POLICIES))
        return PrecisionChoice(requested, requested, "set in the config", hardware)

    def choose(bf16: bool, why: str) -> PrecisionChoice:
        return PrecisionChoice(requested, "mixed_bfloat16" if bf16 else "float32", why, hardware)

    if hardware.accelerator == "tpu":
        return choose(True, "auto: TPUs compute in bfloat16 natively")
    if hardware.accelerator == "gpu":
        cc = hardware.gpu_compute_capability or (0, 0)
        return choose(cc >= (8, 0), f"auto: GPU compute capability {cc[0]}.{cc[1]} "
                      + ("has" if cc >= (8, 0) else "lacks") + " native bfloat16")
    if override in ("0", "1"):
        return choose(override == "1", f"auto: {OVERRIDE_ENV}={override}")
    native = [f for f in CPU_BF16_FLAGS if f in hardware.cpu_flags]
    if native:
        return choose(True, f"auto: the CPU has native bfloat16 ({', '.join(native)})")
    return choose(False, "auto: the CPU has no native bfloat16 (no amx_bf16 or avx512_bf16 "
                         "flag); emulated bfloat16 would be slower than float32")


def resolve_dtype_policy(requested: str, strategy_name: str = "default") -> PrecisionChoice:
    """`decide_dtype_policy` on this machine (cheap when `requested` is explicit)."""
    if requested != "auto":
        return decide_dtype_policy(requested, Hardware())
    return decide_dtype_policy(requested, detect_hardware(strategy_name),
                               os.environ.get(OVERRIDE_ENV))
