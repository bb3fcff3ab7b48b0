"""Redshift COPY-from-JSON rules applied locally: JSONPaths, document splitting, type coercion."""

from datetime import datetime

import pytest

from helpers.json_copy import (
    Column,
    CopyOptions,
    JsonCopyError,
    RejectedRecord,
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
