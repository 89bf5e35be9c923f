"""The neutral index schema every backend compiles into its own mapping.

Field types are the small set both engines agree on: analysed text, exact
keywords, integers and floats, dates and completion (autocomplete) inputs.
Documents are plain dicts keyed by field name; multi-valued fields hold lists;
dates are timezone-aware datetimes; a completion field holds
`{"input": [...], "weight": int}`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


class FieldType(enum.StrEnum):
    TEXT = "text"  # analysed for full-text search (Chinese, English and mixed)
    KEYWORD = "keyword"  # exact values: filters, facets, sorting
    INTEGER = "integer"
    FLOAT = "float"
    DATE = "date"
    BOOLEAN = "boolean"
    COMPLETION = "completion"  # prefix suggestions


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    multi: bool = False  # holds a list of values

    @property
    def is_numeric(self) -> bool:
        return self.type in (FieldType.INTEGER, FieldType.FLOAT, FieldType.DATE)


@dataclass(frozen=True)
class IndexSchema:
    """One entity's index: its alias (what callers name) and its fields. The document id is separate."""

    alias: str
    fields: tuple[Field, ...]
    # Bumped when the mapping changes incompatibly; a reindex builds the new shape.
    revision: int = 1
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"duplicate field names in schema {self.alias}")
        for name in by_name:
            if name.startswith("_") or not name.replace("_", "").isalnum():
                raise ValueError(f"invalid field name {name!r}: letters, digits and inner underscores only")
        if sum(f.type == FieldType.COMPLETION for f in self.fields) > 1:
            raise ValueError("at most one completion field per schema")
        object.__setattr__(self, "_by_name", by_name)

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.alias} has no field {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    def of_type(self, *types: FieldType) -> list[Field]:
        return [f for f in self.fields if f.type in types]

    @property
    def completion_field(self) -> Field | None:
        found = self.of_type(FieldType.COMPLETION)
        return found[0] if found else None

    def with_alias(self, alias: str) -> IndexSchema:
        """The same fields under another alias (test corpora, benchmarks)."""
        return IndexSchema(alias, self.fields, revision=self.revision)

    def to_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "revision": self.revision,
            "fields": [{"name": f.name, "type": f.type.value, "multi": f.multi} for f in self.fields],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexSchema:
        fields = tuple(Field(f["name"], FieldType(f["type"]), f["multi"]) for f in data["fields"])
        return cls(data["alias"], fields, revision=data["revision"])

    def validate(self, doc: dict[str, Any]) -> None:
        """Reject unknown fields and wrongly typed values before they reach a backend."""
        for name, value in doc.items():
            f = self.field(name)
            if value is None:
                continue
            values: Iterable[Any] = value if f.multi else [value]
            if f.multi and not isinstance(value, list | tuple):
                raise TypeError(f"{self.alias}.{name} is multi-valued: give a list")
            for v in values:
                _check_value(self.alias, f, v)


def _check_value(alias: str, f: Field, v: Any) -> None:
    ok: bool
    match f.type:
        case FieldType.TEXT | FieldType.KEYWORD:
            ok = isinstance(v, str)
        case FieldType.INTEGER:
            ok = isinstance(v, int) and not isinstance(v, bool)
        case FieldType.FLOAT:
            ok = isinstance(v, int | float) and not isinstance(v, bool)
        case FieldType.BOOLEAN:
            ok = isinstance(v, bool)
        case FieldType.DATE:
            ok = isinstance(v, dt.datetime) and v.tzinfo is not None
        case FieldType.COMPLETION:
            inputs = v.get("input") if isinstance(v, dict) else None
            ok = isinstance(inputs, list) and all(isinstance(i, str) for i in inputs)
    if not ok:
        raise TypeError(f"{alias}.{f.name}: {v!r} is not a valid {f.type.value}")


def convert_dates(schema: IndexSchema, doc: dict[str, Any], convert: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of `doc` with every date field's value(s) passed through `convert` (to or from a backend's form)."""
    out = {}
    for name, value in doc.items():
        if value is not None and schema.has(name) and schema.field(name).type == FieldType.DATE:
            out[name] = [convert(v) for v in value] if isinstance(value, list) else convert(value)
        else:
            out[name] = value
    return out


def to_epoch_ms(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a search document or query")
    return int(value.timestamp() * 1000)


def from_epoch_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
