"""One row type and one table for every entry, whatever its unit."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple


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


def adapt(rows: Iterable[Any], unit: str = "") -> list[Row]:
    """Rows from entries written elsewhere (``bench_engine``, ``bench_encryption``, ...):
    anything with name/value/baseline/ratio[/note] fields, or such a tuple."""
    adapted = []
    for r in rows:
        if isinstance(r, Row):
            adapted.append(r)
            continue
        if hasattr(r, "name") and hasattr(r, "value"):
            fields = {k: getattr(r, k, None) for k in ("name", "value", "baseline", "ratio")}
            note = str(getattr(r, "note", "") or "")
            r_unit = str(getattr(r, "unit", "") or unit)
        else:
            name, value, baseline, ratio, *rest = tuple(r)
            fields = {"name": name, "value": value, "baseline": baseline, "ratio": ratio}
            note, r_unit = (str(rest[0]) if rest else ""), unit
        adapted.append(
            Row(
                str(fields["name"]),
                float(fields["value"] or 0.0),
                None if fields["baseline"] is None else float(fields["baseline"]),
                None if fields["ratio"] is None else float(fields["ratio"]),
                r_unit,
                note,
            )
        )
    return adapted


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
