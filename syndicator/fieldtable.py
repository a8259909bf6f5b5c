"""One table per resource: each field's kind, limits and rules, read by checks and docs alike.

`Table.parse` turns a request body into checked values (every problem at
once, keyed by field, so a client can show each message beside its input);
`Table.input_schema` / `output_schema` are the JSON Schemas the OpenAPI
document shows. Both read the same `Field`s, so what is checked and what is
documented cannot drift apart. Pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from syndicator import slugs, timestamps, xmltext
from syndicator.errors import InvalidInput

Check = Callable[[Any], Any]
MAX_INTEGER = 2**53  # what every JSON reader keeps exactly


class Kind(StrEnum):
    TEXT = "text"
    SLUG = "slug"
    URL = "url"
    EMAIL = "email"
    TEXT_LIST = "text_list"
    TIMESTAMP = "timestamp"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    RECORDS = "records"  # a list of objects described by `Field.records`


@dataclass(frozen=True)
class Field:
    """One field: `required` on create, `max_length` in characters (per item for lists)."""

    name: str
    kind: Kind
    description: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    max_items: int | None = None
    nullable: bool = False  # null is accepted on input (and may be shown)
    null_on_read: bool = False  # shown as null sometimes, though input may not be null
    read_only: bool = False
    write_only: bool = False
    always_shown: bool = True  # False: only some answers carry it
    read_choices: tuple[str, ...] = ()  # what is shown, when it differs from what is accepted
    default: Any = None
    records: Table | None = None
    minimum: int = 0  # for integers: what the column holds, where less than MAX_INTEGER
    maximum: int = MAX_INTEGER


@dataclass(frozen=True)
class Table:
    noun: str  # "a post": used in messages
    fields: tuple[Field, ...]
    at_most_one_of: tuple[str, ...] = ()

    def writable(self) -> dict[str, Field]:
        return {field.name: field for field in self.fields if not field.read_only}

    def parse(
        self, body: Mapping[str, Any], *, creating: bool, checks: Mapping[str, Check] | None = None
    ) -> dict[str, Any]:
        """The fields sent, converted; InvalidInput naming every bad one.

        `checks` add rules that need the caller's context (the database, a
        setting); each gets the converted value and raises ValueError.
        """
        writable, problems, values = self.writable(), {}, {}
        for name, value in body.items():
            field = writable.get(name)
            if field is None:
                problems[xmltext.clean(name)[:100]] = f"is not a field of {self.noun}"
                continue
            try:
                values[name] = _convert(field, value)
                if (check := (checks or {}).get(name)) is not None:
                    values[name] = check(values[name])
            except ValueError as problem:
                problems[name] = str(problem)
        if creating:
            for field in writable.values():
                if field.required and field.name not in body:
                    problems[field.name] = "is required"
        given = [name for name in self.at_most_one_of if name in body]
        if len(given) > 1:
            problems[given[-1]] = "give only one of " + ", ".join(self.at_most_one_of)
        if problems:
            raise InvalidInput(problems, f"{self.noun} with invalid fields: " + ", ".join(problems))
        return values

    def input_schema(self, *, creating: bool) -> dict[str, Any]:
        fields = self.writable().values()
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {field.name: _schema(field, reading=False) for field in fields},
            "required": [field.name for field in fields if creating and field.required],
            "additionalProperties": False,
        }
        if self.at_most_one_of:
            schema["not"] = {"required": list(self.at_most_one_of)}
        return schema

    def output_schema(self) -> dict[str, Any]:
        shown = [field for field in self.fields if not field.write_only]
        return {
            "type": "object",
            "properties": {field.name: _schema(field, reading=True) for field in shown},
            "required": [field.name for field in shown if field.always_shown],
            "additionalProperties": False,  # what is shown is what is documented
        }


def _convert(field: Field, value: Any) -> Any:
    if value is None:
        if field.nullable:
            return None
        raise ValueError("must not be null")
    return _CONVERTERS[field.kind](field, value)


def _text(field: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_json_type(value)}")
    if field.max_length is not None and len(value) > field.max_length:
        raise ValueError(f"must be at most {field.max_length} characters")
    return value


def _slug(field: Field, value: Any) -> str:
    slug = _text(field, value).strip()
    if reason := slugs.problem(slug):
        raise ValueError(reason)
    return slug


def _url(field: Field, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an http:// or https:// URL")
    return _text(field, value).strip()


def _text_list(field: Field, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of strings")
    if field.max_items is not None and len(value) > field.max_items:
        raise ValueError(f"must hold at most {field.max_items} items")
    if field.max_length is not None and any(len(item) > field.max_length for item in value):
        raise ValueError(f"each item must be at most {field.max_length} characters")
    unknown = [item for item in value if field.choices and item not in field.choices]
    if unknown:
        singular = field.name.removesuffix("s")
        raise ValueError(
            f"unknown {singular} {unknown[0]!r}; choose from {', '.join(field.choices)}"
        )
    return tuple(value)


def _timestamp(_field: Field, value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 time string, not {_json_type(value)}")
    return timestamps.parse_rfc3339(value)


def _choice(field: Field, value: Any) -> str:
    if not isinstance(value, str) or value not in field.choices:
        raise ValueError("must be one of " + ", ".join(field.choices))
    return value


def _boolean(_field: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_json_type(value)}")
    return value


def _integer(field: Field, value: Any) -> int:
    low, high = field.minimum, field.maximum
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return value


def _records(field: Field, value: Any) -> list[dict[str, Any]]:
    assert field.records is not None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError("must be a list of objects")
    if field.max_items is not None and len(value) > field.max_items:
        raise ValueError(f"must hold at most {field.max_items} items")
    parsed = []
    for number, item in enumerate(value, 1):
        try:
            parsed.append(field.records.parse(item, creating=True))
        except InvalidInput as error:
            problems = "; ".join(f"{name} {problem}" for name, problem in error.fields.items())
            raise ValueError(f"item {number}: {problems}") from None
    return parsed


def _read_only(field: Field, _value: Any) -> Any:
    raise AssertionError(f"{field.name} is read-only")  # writable() never offers it


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list"}
    return names.get(type(value), "an object" if isinstance(value, dict) else "a string")


_CONVERTERS: dict[Kind, Callable[[Field, Any], Any]] = {
    Kind.TEXT: _text,
    Kind.SLUG: _slug,
    Kind.URL: _url,
    Kind.EMAIL: _text,
    Kind.TEXT_LIST: _text_list,
    Kind.TIMESTAMP: _timestamp,
    Kind.CHOICE: _choice,
    Kind.BOOLEAN: _boolean,
    Kind.INTEGER: _integer,
    Kind.RECORDS: _records,
}


def _schema(field: Field, *, reading: bool) -> dict[str, Any]:
    choices = (field.read_choices or field.choices) if reading else field.choices
    schema = _kind_schema(field, list(choices), reading=reading)
    if field.max_length is not None and field.kind in (Kind.TEXT, Kind.SLUG, Kind.URL):
        schema["maxLength"] = field.max_length
    if field.description:
        schema["description"] = field.description
    if field.default is not None and not reading:
        schema["default"] = field.default
    if field.nullable or (reading and field.null_on_read):
        schema["type"] = [schema["type"], "null"]
    return schema


def _kind_schema(field: Field, choices: list[str], *, reading: bool) -> dict[str, Any]:
    if field.kind == Kind.TEXT_LIST:
        item: dict[str, Any] = (
            {"type": "string", "enum": choices} if choices else {"type": "string"}
        )
        if field.max_length is not None:
            item["maxLength"] = field.max_length
        schema = {"type": "array", "items": item}
        return {**schema, "maxItems": field.max_items} if field.max_items else schema
    if field.kind == Kind.RECORDS:
        assert field.records is not None
        records = field.records
        items = records.output_schema() if reading else records.input_schema(creating=True)
        schema = {"type": "array", "items": items}
        return (
            {**schema, "maxItems": field.max_items} if field.max_items and not reading else schema
        )
    by_kind: dict[Kind, dict[str, Any]] = {
        Kind.TEXT: {"type": "string"},
        Kind.SLUG: {
            "type": "string",
            "pattern": slugs.PATTERN,
            "not": {"enum": sorted(slugs.RESERVED)},
        },
        Kind.URL: {"type": "string", "format": "uri"},
        Kind.EMAIL: {"type": "string", "format": "email"},
        Kind.TIMESTAMP: {"type": "string", "format": "date-time"},
        Kind.CHOICE: {"type": "string", "enum": choices},
        Kind.BOOLEAN: {"type": "boolean"},
        Kind.INTEGER: (
            {"type": "integer"}
            if reading
            else {"type": "integer", "minimum": field.minimum, "maximum": field.maximum}
        ),
    }
    return dict(by_kind[field.kind])
