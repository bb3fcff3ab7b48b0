"""Redshift COPY-from-JSON rules applied locally: JSONPaths, document splitting, type coercion."""

from datetime import datetime

import pytest

from helpers.json_copy import (
    Column,
    CopyOptions,
    JsonCopyError,
    RowBuilder,
    iter_documents,
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
