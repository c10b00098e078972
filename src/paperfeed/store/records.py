"""Plain values from stored rows: a dataclass filled from the same-named attributes of an ORM
object, so that a view lists its fields once (in its class), not again where it is made."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def record_of(cls: type[T], row: object, **given: Any) -> T:
    """``cls`` (a dataclass) made from ``row``'s attributes of the same names as its fields,
    but for the fields ``given``."""
    values = {
        f.name: given[f.name] if f.name in given else getattr(row, f.name) for f in fields(cls)
    }
    return cls(**values)
