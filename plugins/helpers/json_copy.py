"""Redshift's ``COPY ... FORMAT AS JSON`` rules, applied in Python for PostgreSQL targets.

PostgreSQL's COPY reads only text, CSV and binary rows, and no maintained library maps JSON
documents onto table columns the way Redshift does (its JSONPaths subset, ``'auto'`` matching,
TIMEFORMAT, numbers loaded into strings), so this module does it, following the AWS "COPY from
JSON format" documentation. The rows it builds are written with psycopg's ``COPY ... FROM STDIN``,
so the local stack stages the same rows Redshift would, one document at a time.

Two paths build a row, with the same result. Most lines take the typed one: msgspec decodes the line
straight into the columns' types and checks lengths, ranges and patterns in C, and the rows go to
PostgreSQL as binary COPY. A line it does not take (a number for a text column, a string for an integer,
nested JSONPaths, an object over several lines, any error) goes the general way: decoded to a dict and
converted column by column, which also says what is wrong with a bad record.

Every error names the S3 object, the line and the column, so a bad file is found without guessing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import msgspec

from helpers.db import quote_column

_EPOCH = datetime(1970, 1, 1)
_TEXT_TYPES = {"character varying", "character", "text"}
_INT_TYPES = {"smallint", "integer", "bigint"}
_FLOAT_TYPES = {"double precision", "real", "numeric"}
_TIMESTAMP_TYPES = {"timestamp without time zone", "timestamp with time zone"}
_INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
# Binary COPY sends each value in its column's own format; these are the types whose Python values
# (from either path) psycopg writes exactly as the text COPY would load them. Others go as text.
_BINARY_TYPES = {
    "character varying": "varchar", "text": "text", "smallint": "int2", "integer": "int4", "bigint": "int8",
    "double precision": "float8", "timestamp without time zone": "timestamp", "date": "date", "boolean": "bool",
}
_PATTERN_MEMO = 65_536
"""Distinct values per column the typed path remembers as matching the column's pattern."""
_EPOCH_UNITS = {"epochmillisecs": timedelta(milliseconds=1), "epochsecs": timedelta(seconds=1)}
TIME_FORMATS = ("auto", "epochmillisecs", "epochsecs")
# Redshift COPY options this module applies; any other option has no local equivalent.
SUPPORTED_OPTIONS = ("BLANKSASNULL", "EMPTYASNULL", "TRUNCATECOLUMNS", "GZIP")
# Options that only tune Redshift's own work and change no row.
NEUTRAL_OPTIONS = ("COMPUPDATE OFF", "STATUPDATE OFF", "COMPUPDATE ON", "STATUPDATE ON")


class JsonCopyError(ValueError):
    """A document that COPY would reject, with where it is and why."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    max_length: int | None = None
    nullable: bool = True


@dataclass(frozen=True)
class CopyOptions:
    timeformat: str = "auto"
    blanks_as_null: bool = False
    empty_as_null: bool = False
    truncate_columns: bool = False
    gzip: bool = False

    @classmethod
    def from_redshift(cls, timeformat: str, options: Iterable[str]) -> CopyOptions:
        """Read the Redshift COPY options; refuse those whose effect cannot be reproduced here."""
        if timeformat.lower() not in TIME_FORMATS:
            raise ValueError(f"TIMEFORMAT {timeformat!r} is not supported locally; use one of {TIME_FORMATS}.")
        flags = {" ".join(option.upper().split()) for option in options}
        unknown = flags - set(SUPPORTED_OPTIONS) - set(NEUTRAL_OPTIONS)
        if unknown:
            raise ValueError(
                f"COPY option(s) {sorted(unknown)} have no local equivalent; supported locally: "
                f"{', '.join(SUPPORTED_OPTIONS + NEUTRAL_OPTIONS)}."
            )
        return cls(
            timeformat=timeformat.lower(),
            blanks_as_null="BLANKSASNULL" in flags,
            empty_as_null="EMPTYASNULL" in flags,
            truncate_columns="TRUNCATECOLUMNS" in flags,
            gzip="GZIP" in flags,
        )


def table_columns(cursor: Any, schema: str, table: str) -> list[Column]:
    """The columns COPY fills in ``schema.table``, in order (none when the table does not exist)."""
    cursor.execute(
        "SELECT column_name, data_type, character_maximum_length, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    )
    return [Column(*row) for row in cursor.fetchall()]


# --- JSONPaths -----------------------------------------------------------------------------------

_PATH_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)      # .name
      | \[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]  # ['name']
      | \[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]  # ["name"]
      | \[\s*(?P<index>\d+)\s*\]                 # [0]
    """,
    re.VERBOSE,
)

PathStep = str | int


def parse_jsonpath(expression: str) -> tuple[PathStep, ...]:
    """``$['a']['b'][0]`` or ``$.a.b[0]`` -> ``('a', 'b', 0)`` (Redshift's JSONPath subset)."""
    text = expression.strip()
    if not text.startswith("$"):
        raise ValueError(f"JSONPath {expression!r} must start with '$'.")
    steps: list[PathStep] = []
    position = 1
    while position < len(text):
        match = _PATH_STEP.match(text, position)
        if not match:
            raise ValueError(f"JSONPath {expression!r} is invalid at character {position + 1}: {text[position:]!r}.")
        if match["index"] is not None:
            steps.append(int(match["index"]))
        else:
            name = match["name"] or match["single"] or match["double"] or ""
            steps.append(re.sub(r"\\(.)", r"\1", name))
        position = match.end()
    if not steps:
        raise ValueError(f"JSONPath {expression!r} selects the whole document; name an element.")
    return tuple(steps)


def parse_jsonpaths_file(text: str, source: str) -> list[tuple[PathStep, ...]]:
    """The expressions of a JSONPaths file (``{"jsonpaths": [...]}``), in column order."""
    try:
        document = json.loads(text)
        expressions = document["jsonpaths"]
        if not isinstance(expressions, list) or not all(isinstance(e, str) for e in expressions):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise JsonCopyError(f"{source}: not a JSONPaths file: expected {{\"jsonpaths\": [\"$['field']\", ...]}}.") from None
    try:
        return [parse_jsonpath(expression) for expression in expressions]
    except ValueError as error:
        raise JsonCopyError(f"{source}: {error}") from None


def _path_getter(path: tuple[PathStep, ...]) -> Callable[[dict], Any]:
    if len(path) == 1 and isinstance(path[0], str):
        key = path[0]
        return lambda document: document.get(key)

    def get(document: dict) -> Any:
        node: Any = document
        for step in path:
            if isinstance(step, int):
                node = node[step] if isinstance(node, list) and step < len(node) else None
            else:
                node = node.get(step) if isinstance(node, dict) else None
            if node is None:
                return None
        return node

    return get


def _auto_getter(column: str, ignore_case: bool) -> Callable[[dict], Any]:
    if not ignore_case:
        return lambda document: document.get(column)

    def get(document: dict) -> Any:
        for key, value in document.items():
            if key.lower() == column:
                return value
        return None

    return get


# --- documents -----------------------------------------------------------------------------------

RAW_TEXT_LIMIT = 4096
"""Characters of a rejected record's text kept with its reject."""
UTF8_BOM = b"\xef\xbb\xbf"
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""The largest JSON object Redshift's COPY loads (4 MB); a larger record is rejected."""


@dataclass(frozen=True)
class Reject:
    """A record COPY would not load: where it is, the column at fault (None: the whole record), why."""

    source: str
    line: int
    column: str | None
    reason: str
    raw: str
    column_type: str | None = None

    def __str__(self) -> str:
        column = f"column {self.column} ({self.column_type}): " if self.column else ""
        return f"{self.source}, line {self.line}: {column}{self.reason}"


class RejectedRecord(JsonCopyError):
    """Raised for a record that cannot be loaded; ``reject`` says where and why."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(str(reject))
        self.reject = reject


def _raise(reject: Reject) -> None:
    raise RejectedRecord(reject)


def _raw(text: str) -> str:
    return text[:RAW_TEXT_LIMIT]


def iter_documents(
    lines: Iterable[bytes], source: str, reject: Callable[[Reject], None] = _raise
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, object)`` for each JSON object in ``lines``; pass each record that is not
    one to ``reject`` (by default: raise ``RejectedRecord``) and go on with the next.

    Like Redshift, accepts objects one per line (the fast path) or spread over several lines, or
    several on one line, separated by whitespace. A document that does not parse rejects the line it
    starts on; reading goes on from the next line. A UTF-8 byte order mark opening the object is
    skipped (RFC 8259 lets parsers ignore it; editors on Windows write it).
    """
    return _documents(lines, source, reject, None)


def iter_rows(
    lines: Iterable[bytes], source: str, builder: RowBuilder, reject: Callable[[Reject], None] = _raise
) -> Iterator[tuple[int, tuple | list]]:
    """Yield ``(line number, row)`` for each record of ``lines`` that ``builder``'s table can load; pass
    each other record to ``reject`` (by default: raise ``RejectedRecord``) and go on with the next.

    The rows are those ``builder.build`` makes of each document of ``iter_documents(lines)``; a line
    that is one object is decoded by the typed path when it can be."""
    for line_no, value in _documents(lines, source, reject, builder.decode_line):
        if type(value) is dict:  # a document the typed path did not take
            try:
                value = builder.build(value, source, line_no)
            except RejectedRecord as rejected:
                reject(rejected.reject)
                continue
        yield line_no, value


def _documents(
    lines: Iterable[bytes], source: str, reject: Callable[[Reject], None],
    decode_line: Callable[[bytes], tuple | list | None] | None,
) -> Iterator[tuple[int, Any]]:
    """``iter_documents``; with ``decode_line``, a line it turns into a row yields the row instead."""
    decode = msgspec.json.Decoder().decode
    pending: list[tuple[int, str]] = []  # the lines of a document spread over several
    again: list[tuple[int, bytes]] = []  # lines to read again after a rejected start, last first
    numbered = enumerate(lines, 1)
    line_no = 0
    while True:
        if again:
            line_no, line = again.pop()
        else:
            next_line = next(numbered, None)
            if next_line is None:
                break
            line_no, line = next_line
            if line_no == 1 and line.startswith(UTF8_BOM):
                line = line[len(UTF8_BOM):]
        if len(line) > MAX_RECORD_BYTES:
            reject(Reject(source, line_no, None, f"the record's {len(line):,} bytes exceed the "
                                                 f"{MAX_RECORD_BYTES:,} COPY loads", _raw(_lenient(line))))
            continue
        if not pending:
            stripped = line.strip()
            if not stripped:
                continue
            if decode_line is not None and (row := decode_line(stripped)) is not None:
                yield line_no, row
                continue
            try:
                value = decode(stripped)
            except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises the latter inside strings
                pass
            else:
                if isinstance(value, dict):
                    yield line_no, value
                else:
                    reject(Reject(source, line_no, None, f"expected a JSON object, found {type(value).__name__}",
                                  _raw(_lenient(stripped))))
                continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            reject(Reject(source, line_no, None, f"not valid UTF-8 ({error.reason} at byte {error.start})",
                          _raw(_lenient(line))))
            continue
        pending.append((line_no, text))
        documents, invalid = _drain(pending, source)
        for document in documents:
            if isinstance(document, Reject):
                reject(document)
            else:
                yield document
        if invalid is not None:
            reject(invalid)
            again.extend((number, text.encode()) for number, text in reversed(pending[1:]))
            pending.clear()
    if pending:
        reject(Reject(
            source, pending[0][0], None,
            f"the JSON document starting here is not complete at the end of the file (line {line_no})",
            _raw("\n".join(text for _, text in pending)),
        ))


_raw_decode = json.JSONDecoder().raw_decode


def _drain(pending: list[tuple[int, str]], source: str) -> tuple[list[tuple[int, dict] | Reject], Reject | None]:
    """Decode the complete documents at the front of ``pending``; leave in it the text from the first
    document not decoded. Returns the documents (or the rejects of non-objects) and the reject of a
    document that cannot parse, if any."""
    text = "".join(line + "\n" for _, line in pending)
    first_line = pending[0][0]
    documents: list[tuple[int, dict] | Reject] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            pending.clear()
            return documents, None
        line = first_line + text.count("\n", 0, position)
        try:
            value, end = _raw_decode(text, position)
        except json.JSONDecodeError as error:
            pending[:] = [(line + offset, part) for offset, part in enumerate(text[position:].split("\n")[:-1])]
            if not text[error.pos:].strip():
                return documents, None  # unfinished: wait for more lines
            at = first_line + error.lineno - 1
            where = f"line {at}, column {error.colno}" if at != line else f"column {error.colno}"
            return documents, Reject(source, line, None, f"invalid JSON: {error.msg} ({where})", _raw(pending[0][1]))
        documents.append((line, value) if isinstance(value, dict) else Reject(
            source, line, None, f"expected a JSON object, found {type(value).__name__}", _raw(text[position:end])))
        position = end


def _lenient(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- rows ----------------------------------------------------------------------------------------


class RowBuilder:
    """Turns JSON objects into rows for ``columns``, as Redshift's COPY would load them."""

    def __init__(
        self,
        columns: list[Column],
        jsonpaths: list[tuple[PathStep, ...]] | None,
        options: CopyOptions,
        *,
        ignore_case: bool = False,
        patterns: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """``patterns``: column -> (regular expression its value's text must match whole, reason to give)."""
        if jsonpaths is not None and len(jsonpaths) != len(columns):
            raise JsonCopyError(
                f"The JSONPaths file has {len(jsonpaths)} expressions but the table has {len(columns)} "
                f"columns ({', '.join(c.name for c in columns)}); they must match one to one."
            )
        getters = (
            [_path_getter(path) for path in jsonpaths]
            if jsonpaths is not None
            else [_auto_getter(column.name, ignore_case) for column in columns]
        )
        patterns = dict(patterns or {})
        unknown = set(patterns) - {column.name for column in columns}
        if unknown:
            raise JsonCopyError(f"Patterns for columns the table does not have: {', '.join(sorted(unknown))}.")
        converters = [_matching(_converter(column, options), *patterns[column.name]) if column.name in patterns
                      else _converter(column, options) for column in columns]
        self.columns = columns
        self._fields = [_field(getter, convert, column.nullable)
                        for column, getter, convert in zip(columns, getters, converters)]
        keys = None if ignore_case else _top_level_keys(columns, jsonpaths)
        self.decode_line: Callable[[bytes], tuple | list | None] | None = (
            _typed_decoder(columns, keys, options, patterns, converters) if keys else None)
        """The typed path: a line -> its row, or None for a line to take the general way (None: no
        typed path for these JSONPaths)."""
        self.copy_types: list[str] | None = (
            [_BINARY_TYPES[column.data_type] for column in columns]
            if all(column.data_type in _BINARY_TYPES for column in columns) else None)
        """The binary COPY types of the columns, or None when some column's rows go as text."""

    def build(self, document: dict, source: str, line_no: int) -> tuple:
        try:
            return tuple([field(document) for field in self._fields])
        except (TypeError, ValueError, OverflowError):
            self._raise_for_first_bad_field(document, source, line_no)
            raise

    def _raise_for_first_bad_field(self, document: dict, source: str, line_no: int) -> None:
        for column, field in zip(self.columns, self._fields):
            try:
                field(document)
            except (TypeError, ValueError, OverflowError) as error:
                raise RejectedRecord(Reject(
                    source, line_no, column.name, f"cannot load {_preview(_field_value(document, field))}: {error}",
                    _raw(json.dumps(document, ensure_ascii=False)), column.data_type,
                )) from None


@contextmanager
def copy_into(cursor: Any, table: str, builder: RowBuilder) -> Iterator[Any]:
    """psycopg's ``COPY table (builder's columns) FROM STDIN`` for the rows of ``builder``: binary
    when every column's type allows it (``table``: a quoted name)."""
    columns = ", ".join(quote_column(column.name) for column in builder.columns)
    binary = builder.copy_types is not None
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN{' (FORMAT BINARY)' if binary else ''}") as copy:
        if binary:
            copy.set_types(builder.copy_types)
        yield copy


def _top_level_keys(columns: list[Column], jsonpaths: list[tuple[PathStep, ...]] | None) -> list[str] | None:
    """The key each column's value is under, when every column reads its own key of the object."""
    keys = [column.name for column in columns] if jsonpaths is None else [
        path[0] for path in jsonpaths if len(path) == 1 and isinstance(path[0], str)]
    return keys if len(keys) == len(columns) and len(set(keys)) == len(keys) else None


def _typed_decoder(
    columns: list[Column], keys: list[str], options: CopyOptions, patterns: Mapping[str, tuple[str, str]],
    converters: list[Callable[[Any], Any]],
) -> Callable[[bytes], tuple | list | None]:
    """A line -> its row, by one msgspec decode into a struct of the columns' JSON types; None for a
    line whose values are not all of those types or do not pass their checks (the general path then
    loads it, or says why not).

    msgspec does in C what costs the general path most: a text column is a JSON string within the
    column's length, an integer one a JSON integer in the type's range, a float one a finite JSON
    number; such a value loads unchanged. A text column with a pattern is checked against it here,
    each distinct value once (``_PATTERN_MEMO``): msgspec's own pattern check runs the regular
    expression for every value, a third of the decode's time for one such column. A column whose
    value is converted (timestamps, dates, options that change text, a pattern on a non-text value)
    gets the JSON type the general path converts, then that conversion.
    """
    fields: list[tuple] = []
    conversions: list[tuple[int, Callable[[Any], Any]]] = []
    checks: list[tuple[int, Callable[[str], Any], set[str]]] = []  # column, its pattern's fullmatch, values matched
    for index, (column, convert) in enumerate(zip(columns, converters)):
        pattern = patterns.get(column.name)
        if pattern is not None and _text_loads_as_is(column, options):
            checks.append((index, re.compile(pattern[0]).fullmatch, set()))
            pattern = None
        json_type, conversion = _typed_field(column, options, pattern, convert)
        if conversion is not None:
            conversions.append((index, conversion))
        fields.append((f"c{index}", json_type | None, None) if column.nullable else (f"c{index}", json_type))
    record = msgspec.defstruct("Record", fields, kw_only=True, rename={f"c{i}": key for i, key in enumerate(keys)})
    decode = msgspec.json.Decoder(record).decode
    as_tuple = msgspec.structs.astuple

    def decode_line(line: bytes) -> tuple | list | None:
        if b"\\u0000" in line:  # a NUL (JSON can only have it escaped): the general path refuses it by name
            return None
        try:
            row: tuple | list = as_tuple(decode(line))
            for index, fullmatch, matched in checks:
                value = row[index]
                if value is not None and value not in matched:
                    if fullmatch(value) is None:
                        return None
                    if len(matched) < _PATTERN_MEMO:
                        matched.add(value)
            if conversions:
                row = list(row)
                for index, conversion in conversions:
                    if row[index] is not None:
                        row[index] = conversion(row[index])
        except (msgspec.DecodeError, ValueError, TypeError, OverflowError):  # ValidationError is a DecodeError
            return None
        return row

    return decode_line


def _typed_field(
    column: Column, options: CopyOptions, pattern: tuple[str, str] | None, convert: Callable[[Any], Any]
) -> tuple[Any, Callable[[Any], Any] | None]:
    """The JSON type the typed path decodes ``column`` as, and the conversion of its value (None: loads
    unchanged). ``convert``: the general path's conversion of the column; ``pattern``: the column's,
    unless ``_typed_decoder`` checks it."""
    data_type = column.data_type
    if data_type in _TEXT_TYPES:
        if not _text_loads_as_is(column, options):
            return str, convert
        return (Annotated[str, msgspec.Meta(max_length=column.max_length)] if column.max_length else str), None
    if data_type in _INT_TYPES:
        bound = _INT_RANGES[data_type]
        json_type: Any = Annotated[int, msgspec.Meta(ge=-bound, le=bound - 1)]
    elif data_type in _FLOAT_TYPES:
        json_type = float  # msgspec refuses a number beyond float's range, as the general path does
    elif data_type == "boolean":
        json_type = bool
    elif data_type in _TIMESTAMP_TYPES and options.timeformat in _EPOCH_UNITS:
        unit = _EPOCH_UNITS[options.timeformat]
        return int, convert if pattern is not None else (lambda value: _EPOCH + unit * value)
    else:  # the other timestamps, and dates (``_converter`` refused every other type): from text
        return str, convert
    return json_type, convert if pattern is not None else None


def _text_loads_as_is(column: Column, options: CopyOptions) -> bool:
    """A text column whose JSON string loads unchanged: no option changes or cuts it."""
    return column.data_type in _TEXT_TYPES and not (
        options.empty_as_null or options.blanks_as_null or (options.truncate_columns and column.max_length))


def _field(get: Callable[[dict], Any], convert: Callable[[Any], Any], nullable: bool) -> Callable[[dict], Any]:
    """One column of a row: its JSON value, converted; NULL for a missing or null value, which a
    NOT NULL column refuses."""

    def field(document: dict) -> Any:
        value = get(document)
        if value is None:
            if not nullable:
                raise ValueError("the column is NOT NULL and the record has no value for it")
            return None
        return convert(value)

    field.get = get  # type: ignore[attr-defined]
    return field


def _matching(convert: Callable[[Any], Any], pattern: str, reason: str) -> Callable[[Any], Any]:
    """``convert``, then refuse a value whose text does not match ``pattern`` whole."""
    matches = re.compile(pattern).fullmatch

    def check(value: Any) -> Any:
        converted = convert(value)
        if converted is not None and not matches(str(converted)):
            raise ValueError(f"{reason} (the value must match {pattern})")
        return converted

    return check


def _field_value(document: dict, field: Callable[[dict], Any]) -> Any:
    return field.get(document)  # type: ignore[attr-defined]


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _converter(column: Column, options: CopyOptions) -> Callable[[Any], Any]:
    data_type = column.data_type
    if data_type in _TEXT_TYPES:
        return _text_converter(column, options)
    if data_type in _INT_TYPES:
        return _int_converter(data_type)
    if data_type in _FLOAT_TYPES:
        return _to_float
    if data_type in _TIMESTAMP_TYPES:
        return _timestamp_converter(options.timeformat)
    if data_type == "date":
        return _to_date
    if data_type == "boolean":
        return _to_bool
    raise JsonCopyError(f"Column {column.name} has type {data_type!r}, which COPY from JSON does not load here.")


def _text_converter(column: Column, options: CopyOptions) -> Callable[[Any], Any]:
    limit = column.max_length

    def convert(value: Any) -> str | None:
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)  # Redshift keeps the number's digits as written; repr round-trips them
        else:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if (options.empty_as_null and text == "") or (options.blanks_as_null and text.strip() == ""):
            return None
        if "\x00" in text:
            raise ValueError("NUL characters cannot be stored")
        if limit is not None and len(text) > limit:
            if not options.truncate_columns:
                raise ValueError(f"{len(text)} characters exceed the column's {limit} (COPY option TRUNCATECOLUMNS cuts them)")
            text = text[:limit]
        return text

    return convert


def _int_converter(data_type: str) -> Callable[[Any], int]:
    bound = _INT_RANGES[data_type]

    def convert(value: Any) -> int:
        number = _to_int(value)
        if not -bound <= number < bound:
            raise ValueError(f"out of range for {data_type}")
        return number

    return convert


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, int):
        return value
    raise TypeError(f"a JSON {type(value).__name__} is not a number")


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"a JSON {type(value).__name__} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _timestamp_converter(timeformat: str) -> Callable[[Any], datetime]:
    unit = {"epochmillisecs": "milliseconds", "epochsecs": "seconds"}.get(timeformat)

    def convert(value: Any) -> datetime:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if unit is None:
                raise ValueError("a number needs TIMEFORMAT 'epochmillisecs' or 'epochsecs'")
            return _EPOCH + timedelta(**{unit: value})
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed if parsed.tzinfo is None else parsed.replace(tzinfo=None) - parsed.utcoffset()
        raise TypeError(f"a JSON {type(value).__name__} is not a timestamp")

    return convert


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise TypeError(f"a JSON {type(value).__name__} is not a date")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "t", "f", "1", "0"):
        return value.strip().lower() in ("true", "t", "1")
    if isinstance(value, int):
        return value != 0
    raise TypeError(f"{value!r} is not a boolean")
