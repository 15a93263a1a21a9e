"""One row type and one table for every entry, whatever its unit."""

from __future__ import annotations

import math
from typing import NamedTuple


class Row(NamedTuple):
    """``value`` is ovoz's figure, ``baseline`` its twin measured in the same run;
    ``ratio`` is value ÷ baseline; ``unit`` says what the numbers are."""

    name: str
    value: float
    baseline: float | None
    ratio: float | None
    unit: str = ""
    note: str = ""


def throughput_row(name: str, ovoz: float, base: float, note: str = "") -> Row:
    return Row(name, ovoz, base, ovoz / base if base else math.nan, "ops/s", note)


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"


def table(rows: list[Row]) -> str:
    width = max([44, *(len(r.name) for r in rows)])
    head = f"{'entry':<{width}} {'ovoz':>9} {'baseline':>9} {'ratio':>7}  {'unit':<9} notes"
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = "-" if r.ratio is None or math.isnan(r.ratio) else f"{r.ratio:.3f}"
        lines.append(
            f"{r.name:<{width}} {_num(r.value):>9} {_num(r.baseline):>9} {ratio:>7}  "
            f"{r.unit:<9} {r.note}".rstrip()
        )
    return "\n".join(lines)
