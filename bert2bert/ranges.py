"""Valid ranges of numbers (config values, architecture fields): one small type."""
import dataclasses
import math
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Range:
    """Valid values from `low` to `high` (None: unbounded); `open_*` excludes that bound."""

    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        low, high = self.low, self.high
        above = low is None or value > low or (value == low and not self.open_low)
        below = high is None or value < high or (value == high and not self.open_high)
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        return (f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.open_high else ']'}")


AT_LEAST_0, AT_LEAST_1 = Range(0), Range(1)
POSITIVE = Range(0, open_low=True)
FRACTION = Range(0, 1, open_high=True)  # [0, 1): dropout, label smoothing, Adam's betas
