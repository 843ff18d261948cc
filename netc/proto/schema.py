"""A small, typed description of protobuf messages (the subset of caffe.proto netc reads).

The schema drives validation of prototxt fields (unknown field, wrong type, a non-repeated
field given twice), defaults for layer parameters, and, later, the binary `.caffemodel`
reader (field numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(Enum):
    INT = "int"  # int32 / int64 / sint
    UINT = "uint"  # uint32 / uint64
    FLOAT = "float"  # float / double
    BOOL = "bool"
    STRING = "string"
    BYTES = "bytes"
    ENUM = "enum"
    MESSAGE = "message"


Scalar = int | float | bool | str


@dataclass(frozen=True)
class Field:
    """One field of a message, as declared in the .proto file."""

    name: str
    number: int
    kind: Kind
    repeated: bool = False
    default: Scalar | None = None
    enum: str | None = None  # name of the enum type for Kind.ENUM
    message: str | None = None  # name of the message type for Kind.MESSAGE
    packed: bool = False
    origin: str | None = None  # a fork's field: which fork (None: BVLC Caffe's own)
    ignored: str | None = None  # a fork's field netc accepts and ignores: why that is safe


@dataclass(frozen=True)
class EnumType:
    name: str
    values: dict[str, int]

    def by_number(self, number: int) -> str | None:
        for key, value in self.values.items():
            if value == number:
                return key
        return None


@dataclass
class Message:
    name: str
    fields: list[Field]
    _by_name: dict[str, Field] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {f.name: f for f in self.fields}

    def get(self, name: str) -> Field | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return list(self._by_name)


@dataclass
class Schema:
    messages: dict[str, Message]
    enums: dict[str, EnumType]

    def message(self, name: str) -> Message:
        return self.messages[name]

    def enum(self, name: str) -> EnumType:
        return self.enums[name]
