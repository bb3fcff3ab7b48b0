"""Redshift COPY-from-JSON rules applied locally: JSONPaths, document splitting, type coercion."""

import random
from datetime import datetime

import pytest

from helpers import json_copy
from helpers.json_copy import (
    Column,
    CopyOptions,
    JsonCopyError,
    RejectedRecord,
    RowBuilder,
    iter_documents,
    iter_rows,
    parse_jsonpath,
    parse_jsonpaths_file,
)

SOURCE = "s3://bucket/key.json"


@pytest.mark.parametrize(
    ("expression", "steps"),
    [
        ("$['userId']", ("userId",)),
        ('$["user id"]', ("user id",)),
        ("$.a.b", ("a", "b")),
        ("$['a'][2]['b']", ("a", 2, "b")),
        ("$.a[0]", ("a", 0)),
        ("$['it\\'s']", ("it's",)),
    ],
)
def test_parse_jsonpath_accepts_redshift_bracket_and_dot_notation(expression, steps):
    assert parse_jsonpath(expression) == steps


@pytest.mark.parametrize("expression", ["userId", "$", "$.a..b", "$[a]", "$.a[-1]"])
def test_parse_jsonpath_rejects_what_redshift_rejects(expression):
    with pytest.raises(ValueError, match="JSONPath"):
        parse_jsonpath(expression)


def test_jsonpaths_file_error_names_the_file():
    with pytest.raises(JsonCopyError, match=r"s3://b/paths.json: not a JSONPaths file"):
        parse_jsonpaths_file('{"paths": []}', "s3://b/paths.json")
    with pytest.raises(JsonCopyError, match=r"s3://b/paths.json: JSONPath 'x'"):
        parse_jsonpaths_file('{"jsonpaths": ["x"]}', "s3://b/paths.json")


def test_iter_documents_reads_json_lines_without_trailing_newline():
    lines = [b'{"a": 1}', b"", b'{"a": 2}']
    assert list(iter_documents(lines, SOURCE)) == [(1, {"a": 1}), (3, {"a": 2})]


def test_iter_documents_reads_objects_spread_over_lines_and_several_on_one_line():
    lines = [b"{", b'  "a": 1,', b'  "b": [1,', b"2]", b'}  {"a": 2} {"a":', b"3}"]
    assert list(iter_documents(lines, SOURCE)) == [(1, {"a": 1, "b": [1, 2]}), (5, {"a": 2}), (5, {"a": 3})]


def test_iter_documents_names_line_of_invalid_json():
    with pytest.raises(JsonCopyError, match=r"s3://bucket/key.json, line 2: invalid JSON"):
        list(iter_documents([b'{"a": 1}', b'{"a": nope}', b'{"a": 3}'], SOURCE))


def test_iter_documents_names_start_of_truncated_document():
    with pytest.raises(JsonCopyError, match=r"line 2: the JSON document starting here is not complete"):
        list(iter_documents([b'{"a": 1}', b'{"a":', b"  2,"], SOURCE))


def test_iter_documents_rejects_non_objects_and_bad_utf8():
    with pytest.raises(JsonCopyError, match="line 1: expected a JSON object, found list"):
        list(iter_documents([b"[1, 2]"], SOURCE))
    with pytest.raises(JsonCopyError, match="line 1: not valid UTF-8"):
        list(iter_documents([b'{"a": "\xff\xfe'], SOURCE))


EVENT_COLUMNS = [
    Column("artist", "character varying", 512),
    Column("ts", "timestamp without time zone"),
    Column("userid", "character varying", 64),
    Column("length", "double precision"),
    Column("sessionid", "integer"),
]
EVENT_PATHS = [("artist",), ("ts",), ("userId",), ("length",), ("sessionId",)]


def test_row_builder_maps_jsonpaths_to_columns_in_order_and_converts_epoch_millis():
    builder = RowBuilder(EVENT_COLUMNS, EVENT_PATHS, CopyOptions(timeformat="epochmillisecs"))
    document = {"artist": "Des'ree", "ts": 1541106106796, "userId": "8", "length": 246.30812, "sessionId": 139}
    assert builder.build(document, SOURCE, 1) == (
        "Des'ree", datetime(2018, 11, 1, 21, 1, 46, 796000), "8", 246.30812, 139,
    )


def test_row_builder_loads_missing_and_null_fields_as_null_and_keeps_empty_strings():
    builder = RowBuilder(EVENT_COLUMNS, EVENT_PATHS, CopyOptions(timeformat="epochmillisecs"))
    assert builder.build({"ts": 0, "userId": ""}, SOURCE, 1) == (None, datetime(1970, 1, 1), "", None, None)


def test_row_builder_turns_numbers_into_strings_for_text_columns():
    columns = [Column("title", "character varying", 512), Column("artist_name", "character varying", 512)]
    builder = RowBuilder(columns, None, CopyOptions())
    assert builder.build({"title": 4.6, "artist_name": 112}, SOURCE, 1) == ("4.6", "112")


def test_row_builder_auto_matches_lower_case_column_names_exactly_unless_ignorecase():
    columns = [Column("song_id", "character varying", 32)]
    assert RowBuilder(columns, None, CopyOptions()).build({"Song_Id": "S1"}, SOURCE, 1) == (None,)
    assert RowBuilder(columns, None, CopyOptions(), ignore_case=True).build({"Song_Id": "S1"}, SOURCE, 1) == ("S1",)


def test_row_builder_keeps_control_characters_and_unicode():
    builder = RowBuilder([Column("title", "character varying", 512)], None, CopyOptions())
    assert builder.build({"title": "Can\x19t \u00e9t\u00e9\u00a0"}, SOURCE, 1) == ("Can\x19t \u00e9t\u00e9\u00a0",)


def test_row_builder_error_names_source_line_column_and_value():
    builder = RowBuilder(EVENT_COLUMNS, EVENT_PATHS, CopyOptions(timeformat="epochmillisecs"))
    with pytest.raises(JsonCopyError, match=r"s3://bucket/key.json, line 7: column sessionid \(integer\): cannot load 'abc'"):
        builder.build({"ts": 1, "sessionId": "abc"}, SOURCE, 7)


def test_row_builder_refuses_too_long_text_unless_truncatecolumns():
    columns = [Column("level", "character varying", 4)]
    with pytest.raises(JsonCopyError, match="5 characters exceed the column's 4"):
        RowBuilder(columns, None, CopyOptions()).build({"level": "paid!"}, SOURCE, 1)
    truncating = RowBuilder(columns, None, CopyOptions.from_redshift("auto", ["TRUNCATECOLUMNS"]))
    assert truncating.build({"level": "paid!"}, SOURCE, 1) == ("paid",)


def test_row_builder_refuses_nul_characters():
    with pytest.raises(JsonCopyError, match="NUL"):
        RowBuilder([Column("a", "text")], None, CopyOptions()).build({"a": "x\x00y"}, SOURCE, 1)


def test_blanksasnull_and_emptyasnull():
    columns = [Column("a", "text"), Column("b", "text")]
    blanks = RowBuilder(columns, None, CopyOptions.from_redshift("auto", ["blanksasnull"]))
    assert blanks.build({"a": "  ", "b": ""}, SOURCE, 1) == (None, None)
    empty = RowBuilder(columns, None, CopyOptions.from_redshift("auto", ["EMPTYASNULL"]))
    assert empty.build({"a": "  ", "b": ""}, SOURCE, 1) == ("  ", None)


def test_jsonpaths_count_must_match_columns():
    with pytest.raises(JsonCopyError, match="has 1 expressions but the table has 5 columns"):
        RowBuilder(EVENT_COLUMNS, [("a",)], CopyOptions())


def test_copy_options_without_local_equivalent_are_refused():
    with pytest.raises(ValueError, match=r"\['MAXERROR 10'\] have no local equivalent"):
        CopyOptions.from_redshift("auto", ["maxerror 10", "COMPUPDATE OFF"])
    with pytest.raises(ValueError, match="TIMEFORMAT 'YYYY' is not supported"):
        CopyOptions.from_redshift("YYYY", [])


def test_timestamps_from_strings_and_epoch_seconds():
    column = [Column("ts", "timestamp without time zone")]
    assert RowBuilder(column, None, CopyOptions()).build({"ts": "2018-11-01T10:00:00+02:00"}, SOURCE, 1) == (
        datetime(2018, 11, 1, 8),
    )
    assert RowBuilder(column, None, CopyOptions(timeformat="epochsecs")).build({"ts": 86400}, SOURCE, 1) == (
        datetime(1970, 1, 2),
    )
    with pytest.raises(JsonCopyError, match="needs TIMEFORMAT"):
        RowBuilder(column, None, CopyOptions()).build({"ts": 86400}, SOURCE, 1)


def read(lines):
    """(documents, rejects) of ``lines`` read with rejects collected."""
    rejects = []
    documents = list(iter_documents(lines, SOURCE, rejects.append))
    return documents, [(reject.line, reject.reason, reject.raw) for reject in rejects]


def test_a_line_that_does_not_parse_is_rejected_and_reading_goes_on():
    assert read([b'{"a": 1}', b'{"a": nope}', b'{"a": 3}']) == (
        [(1, {"a": 1}), (3, {"a": 3})], [(2, "invalid JSON: Expecting value (column 7)", '{"a": nope}')])


def test_a_truncated_line_rejects_only_itself_and_the_next_lines_load():
    documents, rejects = read([b'{"a": 1', b'{"a": 2}', b"", b'{"a": 3}'])
    assert documents == [(2, {"a": 2}), (4, {"a": 3})]
    assert [(line, raw) for line, _, raw in rejects] == [(1, '{"a": 1')]
    assert rejects[0][1] == "invalid JSON: Expecting ',' delimiter (line 2, column 1)"


def test_non_objects_bad_utf8_and_unfinished_documents_are_rejects_with_their_text():
    documents, rejects = read([b"[1, 2]", b'{"a": "\xff"}', b'"text"  {"b": 2}', b'{"c":', b"  3,"])
    assert documents == [(3, {"b": 2})]
    assert rejects == [
        (1, "expected a JSON object, found list", "[1, 2]"),
        (2, "not valid UTF-8 (invalid start byte at byte 7)", '{"a": "\ufffd"}'),
        (3, "expected a JSON object, found str", '"text"'),
        (4, "the JSON document starting here is not complete at the end of the file (line 5)", '{"c":\n  3,'),
    ]


def test_a_document_after_another_on_its_line_is_read_once():
    assert read([b'{"a": 1} {"b":', b"2}", b'{"c": 3} {"d": nope}', b'{"e": 5}']) == (
        [(1, {"a": 1}), (1, {"b": 2}), (3, {"c": 3}), (4, {"e": 5})],
        [(3, "invalid JSON: Expecting value (column 16)", '{"d": nope}')],
    )


def test_a_record_beyond_the_size_copy_loads_is_rejected(monkeypatch):
    monkeypatch.setattr("helpers.json_copy.MAX_RECORD_BYTES", 20)
    documents, rejects = read([b'{"a": "' + b"x" * 30 + b'"}', b'{"a": 1}'])
    assert documents == [(2, {"a": 1})]
    assert rejects[0][:2] == (1, "the record's 39 bytes exceed the 20 COPY loads")


def test_the_raw_text_of_a_reject_is_cut_to_its_bound(monkeypatch):
    monkeypatch.setattr("helpers.json_copy.RAW_TEXT_LIMIT", 5)
    assert read([b"[1, 2, 3, 4]"])[1] == [(1, "expected a JSON object, found list", "[1, 2")]


def test_a_missing_value_of_a_not_null_column_names_the_column():
    builder = RowBuilder([Column("ts", "timestamp without time zone", nullable=False), Column("a", "text")], None,
                         CopyOptions(timeformat="epochmillisecs"))
    with pytest.raises(RejectedRecord) as raised:
        builder.build({"a": "x"}, SOURCE, 4)
    assert str(raised.value) == (f"{SOURCE}, line 4: column ts (timestamp without time zone): cannot load None: "
                                 "the column is NOT NULL and the record has no value for it")
    assert (raised.value.reject.column, raised.value.reject.raw) == ("ts", '{"a": "x"}')


def test_a_value_its_pattern_refuses_is_rejected_naming_the_reason():
    builder = RowBuilder([Column("userid", "character varying", 64)], None, CopyOptions(),
                         patterns={"userid": ("(-?[0-9]{1,9})?", "needs a whole number")})
    assert [builder.build({"userid": value}, SOURCE, 1) for value in ("17", "", None)] == [("17",), ("",), (None,)]
    assert builder.build({"userid": 42}, SOURCE, 1) == ("42",)  # the number's text, as staged
    with pytest.raises(RejectedRecord, match=r"line 3: column userid \(character varying\): cannot load 'x7': needs a "
                                             r"whole number \(the value must match \(-\?\[0-9\]\{1,9\}\)\?\)"):
        builder.build({"userid": "x7"}, SOURCE, 3)
    with pytest.raises(JsonCopyError, match="Patterns for columns the table does not have: user"):
        RowBuilder([Column("userid", "text")], None, CopyOptions(), patterns={"user": (".*", "")})


def test_an_integer_beyond_its_columns_type_is_rejected_naming_the_type():
    builder = RowBuilder([Column("n", "integer"), Column("s", "smallint")], None, CopyOptions())
    assert builder.build({"n": 2**31 - 1, "s": -(2**15)}, SOURCE, 1) == (2**31 - 1, -(2**15))
    with pytest.raises(RejectedRecord, match=r"column n \(integer\): cannot load 2147483648: out of range for integer"):
        builder.build({"n": 2**31}, SOURCE, 1)
    with pytest.raises(RejectedRecord, match=r"column s \(smallint\): cannot load '32768': out of range for smallint"):
        builder.build({"s": "32768"}, SOURCE, 1)


# --- the typed path: the rows the general path builds, faster ------------------------------------

QUIRK_COLUMNS = [
    Column("name", "character varying", 8), Column("code", "character varying", 16), Column("note", "text"),
    Column("count", "integer"), Column("big", "bigint"), Column("small", "smallint"),
    Column("amount", "double precision"), Column("ratio", "real"), Column("flag", "boolean"), Column("day", "date"),
    Column("ts", "timestamp without time zone", nullable=False),
]
QUIRK_PATTERNS = {"code": ("(-?[0-9]{1,9})?", "a whole number or empty"), "count": ("[0-9]+", "not negative")}
# Raw JSON text of each kind's values, a clean one first; raw, so that numbers beyond float's range occur.
QUIRK_VALUES = {
    "text": [r'"x"', r'""', r'"  "', r'"12345678"', r'"123456789"', r'"\u00e4\u00f6\u00fc\u00df\u00e4\u00f6\u00fc\u00df"',
             r'"\ud83d\ude00"', r'"tab\there"', '12', '-0', '1.5', '1e400', 'true', 'null', '{"a": [1]}', '[1]',
             r'"a\u0000b"', r'"a\\u0000b"', r'"\u00e9t\u00e9 \/"', '"17"', '"-4"', '"x7"', '"\xe9t\xe9"'],
    "integer": ['5', '-5', '2147483647', '2147483648', '-2147483648', '-2147483649', '5.0', '5.5', '"12"', '" 12 "',
                '"x"', 'true', 'null', '1e400', '9223372036854775807', '9223372036854775808', '32767', '32768', '-0'],
    "float": ['1.5', '1', '-0.0', '1e308', '1e400', '-1e400', '"1.5"', '"nan"', '"inf"', 'true', 'null', '0.1',
              '123456789012345678901234567890', '4.9e-324', '[1]'],
    "boolean": ['true', 'false', '"t"', '"yes"', '" TRUE "', '1', '0', '2', 'null', '1.0'],
    "date": ['"2018-11-01"', '" 2018-11-01 "', '"2018-13-01"', '20181101', 'null', '"20181101"'],
    "timestamp": ['1541106106796', '1541106106', '1541106106796.5', '-1', '"2018-11-01T21:01:46.796"',
                  '"2018-11-01 21:01:46+02:00"', '"yesterday"', 'true', 'null', '100000000000000000000', '0'],
}
CLEAN_TIMESTAMPS = {"epochmillisecs": "1541106106796", "epochsecs": "1541106106", "auto": '"2018-11-01T21:01:46.796"'}
QUIRK_KINDS = {"character varying": "text", "text": "text", "integer": "integer", "bigint": "integer",
               "smallint": "integer", "double precision": "float", "real": "float", "boolean": "boolean",
               "date": "date", "timestamp without time zone": "timestamp"}


def quirky_lines(keys: list[str], timeformat: str, count: int = 4000, seed: int = 11) -> list[bytes]:
    """Records mixing clean values with every kind of quirk: missing, null, other JSON types, beyond
    length or range, NUL, keys twice, unknown keys, upper case keys; and some lines that are no object."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        members = []
        for column, key in zip(QUIRK_COLUMNS, keys):
            values = QUIRK_VALUES[QUIRK_KINDS[column.data_type]]
            clean = {"code": '"17"', "ts": CLEAN_TIMESTAMPS[timeformat]}.get(column.name, values[0])
            draw = rng.random()
            if draw < 0.02:
                continue
            value = clean if draw < 0.92 else rng.choice(values)
            members.append(f'"{key.upper() if rng.random() < 0.02 else key}": {value}')
            if rng.random() < 0.02:
                members.append(f'"{key}": {rng.choice(values)}')
        if rng.random() < 0.05:
            members.insert(rng.randrange(len(members) + 1), '"unknown": {"nested": true}')
        lines.append(("{" + ", ".join(members) + "}").encode())
        if rng.random() < 0.01:
            lines.append(rng.choice([b"[1, 2]", b'{"cut": ', b"", b"  ", b"\xff{}", b'{"a": 1} {"b": 2}']))
    return lines


def outcome(lines: list[bytes], builder: RowBuilder, *, typed: bool) -> list[tuple]:
    """What a load makes of ``lines``, in order: (line, row) or ("reject", the reject); by the typed
    path where it can (``iter_rows``), or by the general path alone."""
    result: list[tuple] = []

    def reject(record):
        result.append(("reject", record))

    if typed:
        result_rows = iter_rows(lines, SOURCE, builder, reject)
        for line_no, row in result_rows:
            result.append((line_no, row))
        return result
    for line_no, document in iter_documents(lines, SOURCE, reject):
        try:
            result.append((line_no, builder.build(document, SOURCE, line_no)))
        except RejectedRecord as rejected:
            reject(rejected.reject)
    return result


def loaded(lines: list[bytes], builder: RowBuilder, *, typed: bool) -> list[tuple]:
    """``outcome``, each value of a row with its type (1 == 1.0 == True in Python) and repr (-0.0 == 0.0)."""
    return [(line, record if line == "reject" else tuple((type(value).__name__, repr(value)) for value in record))
            for line, record in outcome(lines, builder, typed=typed)]


QUIRK_OPTIONS = {
    "epochmillisecs": CopyOptions(timeformat="epochmillisecs"),
    "epochsecs, blanks/empty as null, truncate": CopyOptions.from_redshift(
        "epochsecs", ["BLANKSASNULL", "EMPTYASNULL", "TRUNCATECOLUMNS"]),
    "auto": CopyOptions(),
}


@pytest.mark.parametrize("options", QUIRK_OPTIONS.values(), ids=QUIRK_OPTIONS.keys())
@pytest.mark.parametrize("paths", ["auto", "jsonpaths"])
def test_the_typed_path_loads_exactly_the_rows_and_rejects_of_the_general_path(options, paths):
    keys = [column.name for column in QUIRK_COLUMNS] if paths == "auto" else [
        f"{column.name.title()} {index}" for index, column in enumerate(QUIRK_COLUMNS)]
    jsonpaths = None if paths == "auto" else [(key,) for key in keys]
    builder = RowBuilder(QUIRK_COLUMNS, jsonpaths, options, patterns=QUIRK_PATTERNS)
    lines = quirky_lines(keys, options.timeformat)
    typed = loaded(lines, builder, typed=True)
    assert typed == loaded(lines, builder, typed=False)
    taken = sum(builder.decode_line(line.strip()) is not None for line in lines if line.strip())
    rows = sum(1 for line, _ in typed if line != "reject")
    assert taken > 1000 and rows - taken > 300 and len(typed) - rows > 300  # each path loaded and rejected


def test_the_typed_path_checks_every_value_against_its_pattern_past_what_it_remembers(monkeypatch):
    monkeypatch.setattr(json_copy, "_PATTERN_MEMO", 2)
    builder = RowBuilder([Column("userid", "character varying", 64), Column("n", "integer")], None, CopyOptions(),
                         patterns={"userid": ("(-?[0-9]{1,9})?", "needs a whole number")})
    lines = [b'{"userid": "%s", "n": 1}' % value.encode() for value in ("17", "", "-3", "17", "-3", "8")]
    assert [builder.decode_line(line) for line in lines] == [(value, 1) for value in ("17", "", "-3", "17", "-3", "8")]
    for refused in ("x7", "1234567890", "17 ", "x7"):  # refused again and again: the general path names why
        assert builder.decode_line(b'{"userid": "%s", "n": 1}' % refused.encode()) is None
    assert builder.decode_line(b'{"userid": null, "n": 1}') == (None, 1)


def test_the_typed_path_is_not_used_where_a_column_reads_no_key_of_its_own():
    columns = [Column("a", "text"), Column("b", "text")]
    assert RowBuilder(columns, [("x", "a"), ("b",)], CopyOptions()).decode_line is None  # nested
    assert RowBuilder(columns, [("a",), ("a",)], CopyOptions()).decode_line is None  # one key for two columns
    assert RowBuilder(columns, None, CopyOptions(), ignore_case=True).decode_line is None
    assert RowBuilder(columns, None, CopyOptions()).decode_line(b'{"a": "1", "b": null}') == ("1", None)


def test_rows_go_as_binary_copy_only_when_every_column_has_a_binary_type():
    assert RowBuilder(EVENT_COLUMNS, EVENT_PATHS, CopyOptions()).copy_types == [
        "varchar", "timestamp", "varchar", "float8", "int4"]
    assert RowBuilder([Column("a", "text"), Column("r", "real")], None, CopyOptions()).copy_types is None
