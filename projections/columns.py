"""A read model's columns, derived from its row dataclass: one field, one edit.

The row type names the columns and their order; a field that is not stored as itself (an
enum stored as its value, a list stored as JSON) declares its conversion once, beside the
field list, and every write (insert, update, bulk copy) and every read goes through it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Conversion:
    """How one field's value goes into its column (``store``) and comes back (``load``)."""

    store: Callable[[Any], Any]
    load: Callable[[Any], Any]


def enum_value(kind: type[Enum]) -> Conversion:
    """An enum stored as its value."""
    return Conversion(store=lambda member: member.value, load=kind)


# A JSON list: stored as JSON text (the column's type parses it), read back as a list.
JSON_LIST = Conversion(store=json.dumps, load=lambda value: list(value or []))
# A JSON object: the same, read back as a dict.
JSON_OBJECT = Conversion(store=json.dumps, load=lambda value: dict(value or {}))


@dataclass(frozen=True)
class Columns(Generic[Row]):
    """The columns of ``row_type``: one per dataclass field, in field order.

    ``prepare`` runs on every value before it is stored, on every write path (the audios
    view uses it to replace text PostgreSQL cannot hold)."""

    row_type: type[Row]
    conversions: Mapping[str, Conversion] = field(default_factory=dict)
    prepare: Callable[[Any], Any] = _same

    def __post_init__(self) -> None:
        unknown = set(self.conversions) - set(self.names)
        if unknown:
            raise ValueError(f"{self.row_type.__name__} has no fields {sorted(unknown)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.row_type))  # type: ignore[arg-type]

    @property
    def listed(self) -> str:
        """The names comma-separated, as a statement's column list."""
        return ", ".join(self.names)

    def stored(self, name: str, value: Any) -> Any:
        """``value`` of field ``name`` as its column holds it."""
        value = self.prepare(value)
        conversion = self.conversions.get(name)
        return value if conversion is None or value is None else conversion.store(value)

    def values(self, row: Row) -> tuple[Any, ...]:
        """The row's column values, in ``names`` order."""
        return tuple(self.stored(name, getattr(row, name)) for name in self.names)

    def changes(self, change: Mapping[str, Any]) -> dict[str, Any]:
        """Changed fields (name -> row value) as column values."""
        return {name: self.stored(name, value) for name, value in change.items()}

    def load(self, record: Mapping[str, Any]) -> Row:
        """The row a record read back with these columns holds."""
        values = {}
        for name in self.names:
            conversion = self.conversions.get(name)
            value = record[name]
            values[name] = value if conversion is None else conversion.load(value)
        return self.row_type(**values)
