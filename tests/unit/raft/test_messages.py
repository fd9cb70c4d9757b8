"""The wire format: every message survives to_wire → JSON → from_wire; anything else is a WireError."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from todonode.raft import (
    AppendEntries,
    AppendResponse,
    ClusterConfig,
    Entry,
    EntryKind,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    ReadIndexRequest,
    ReadIndexResponse,
    Snapshot,
    SnapshotMeta,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
    WireError,
    decode_config,
    encode_config,
    from_wire,
    to_wire,
)
from todonode.raft.messages import MAX_WIRE_INT, MESSAGE_TYPES, WIRE_VERSION, config_from_wire, config_to_wire

ints = st.integers(min_value=0, max_value=MAX_WIRE_INT)
names = st.text(min_size=1, max_size=12)


def runs_after(m: AppendEntries) -> st.SearchStrategy[tuple[Entry, ...]]:
    """Entries a leader at ``m.term`` could send after (prev_index, prev_term): consecutive indices,
    terms from prev_term up to its own, never decreasing."""
    if m.prev_term > m.term or m.prev_index >= MAX_WIRE_INT - 4:
        return st.just(())
    terms = st.lists(st.integers(m.prev_term, m.term), max_size=4).map(sorted)
    return terms.flatmap(
        lambda ts: st.tuples(
            *(
                st.builds(
                    Entry,
                    st.just(t),
                    st.just(m.prev_index + 1 + i),
                    st.binary(max_size=64),
                    st.sampled_from(EntryKind),
                )
                for i, t in enumerate(ts)
            )
        )
    )


@st.composite
def configs(draw: st.DrawFn) -> ClusterConfig:
    """Voters and learners (distinct ids), and addresses for some of them."""
    ids = draw(st.lists(names, min_size=1, max_size=7, unique=True))
    split = draw(st.integers(min_value=1, max_value=len(ids)))
    addressed = draw(st.lists(st.sampled_from(ids), unique=True))
    addresses = tuple(sorted((member, draw(names)) for member in addressed))
    return ClusterConfig(tuple(ids[:split]), tuple(ids[split:]), addresses)


snapshots = st.builds(
    Snapshot,
    meta=st.builds(SnapshotMeta, index=ints, term=ints, config=configs()),
    data=st.binary(max_size=64),
)
common = {"term": ints, "src": names, "dst": names}

MESSAGES = {
    VoteRequest: st.builds(
        VoteRequest,
        **common,
        last_log_index=ints,
        last_log_term=ints,
        pre_vote=st.booleans(),
        transfer=st.booleans(),
    ),
    VoteResponse: st.builds(VoteResponse, **common, granted=st.booleans(), pre_vote=st.booleans()),
    AppendEntries: st.builds(AppendEntries, **common, prev_index=ints, prev_term=ints, commit=ints).flatmap(
        lambda m: st.builds(lambda e: replace(m, entries=e), runs_after(m))
    ),
    AppendResponse: st.builds(
        AppendResponse,
        **common,
        success=st.booleans(),
        match_index=ints,
        reject_index=ints,
        conflict_term=ints,
        conflict_index=ints,
    ),
    Heartbeat: st.builds(Heartbeat, **common, commit=ints, round=ints),
    HeartbeatResponse: st.builds(HeartbeatResponse, **common, round=ints),
    InstallSnapshot: st.builds(InstallSnapshot, **common, snapshot=st.none() | snapshots),
    TimeoutNow: st.builds(TimeoutNow, **common),
    ReadIndexRequest: st.builds(ReadIndexRequest, **common, ctx=st.text(max_size=16)),
    ReadIndexResponse: st.builds(
        ReadIndexResponse, **common, ctx=st.text(max_size=16), index=ints, ok=st.booleans()
    ),
}

GOOD_APPEND = {
    "v": WIRE_VERSION,
    "kind": "append",
    "term": 2,
    "src": "n1",
    "dst": "n2",
    "prev_index": 1,
    "prev_term": 1,
    "entries": [[2, 2, "eA==", "command"]],
    "commit": 1,
}


def test_every_message_kind_has_a_strategy():
    assert set(MESSAGES) == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("cls", list(MESSAGES), ids=lambda cls: cls.kind)
@settings(derandomize=True, deadline=None)
@given(data=st.data())
def test_round_trip_through_json(cls, data):
    msg = data.draw(MESSAGES[cls])
    raw = json.loads(json.dumps(to_wire(msg)))
    assert (raw["v"], raw["kind"]) == (WIRE_VERSION, cls.kind)
    assert from_wire(raw) == msg


def test_good_append_decodes():
    assert from_wire(GOOD_APPEND) == AppendEntries(
        term=2, src="n1", dst="n2", prev_index=1, prev_term=1, entries=(Entry(2, 2, b"x"),), commit=1
    )


def test_missing_optional_fields_take_their_defaults():
    assert from_wire(
        {"v": WIRE_VERSION, "kind": "timeout_now", "term": 3, "src": "a", "dst": "b"}
    ) == TimeoutNow(term=3, src="a", dst="b")


@pytest.mark.parametrize("version", [None, 0, WIRE_VERSION + 1, str(WIRE_VERSION)])
def test_unsupported_version_is_a_wire_error(version):
    raw = {**GOOD_APPEND, "v": version}
    if version is None:
        del raw["v"]
    with pytest.raises(WireError, match="version"):
        from_wire(raw)


@pytest.mark.parametrize("kind", [None, "", "gossip", "Append", ["append"]])
def test_unknown_kind_is_a_wire_error(kind):
    raw = {**GOOD_APPEND, "kind": kind}
    if kind is None:
        del raw["kind"]
    with pytest.raises(WireError):
        from_wire(raw)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"term": None}, id="missing_term"),
        pytest.param({"entries": 5}, id="entries_not_a_list"),
        pytest.param({"entries": [[2, 2, "eA=="]]}, id="entry_too_short"),
        pytest.param({"entries": [["two", 2, "eA==", "command"]]}, id="entry_term_not_a_number"),
        pytest.param({"entries": [[2, 2, "not base64!", "command"]]}, id="entry_bad_base64"),
        pytest.param({"entries": [[2, 2, "eA==", "telepathy"]]}, id="entry_unknown_kind"),
        pytest.param({"entries": [[2, 2, None, "command"]]}, id="entry_data_not_a_string"),
        pytest.param({"term": "2"}, id="term_not_an_integer"),
        pytest.param({"term": True}, id="term_is_a_boolean"),
    ],
)
def test_malformed_append_field_is_a_wire_error(change):
    raw = {k: v for k, v in {**GOOD_APPEND, **change}.items() if v is not None}
    with pytest.raises(WireError):
        from_wire(raw)


@pytest.mark.parametrize(
    "snapshot",
    [
        pytest.param({"data": ""}, id="missing_meta"),
        pytest.param({"meta": {"index": 1, "term": 1}, "data": ""}, id="missing_config"),
        pytest.param(
            {"meta": {"index": 1, "term": 1, "config": {"voters": ["a"]}}, "data": "@@"}, id="bad_data"
        ),
        pytest.param("snapshot", id="not_an_object"),
    ],
)
def test_malformed_snapshot_is_a_wire_error(snapshot):
    raw = {"v": WIRE_VERSION, "kind": "snapshot", "term": 1, "src": "a", "dst": "b", "snapshot": snapshot}
    with pytest.raises(WireError):
        from_wire(raw)


@pytest.mark.parametrize("raw", [[], "append", None], ids=["list", "string", "null"])
def test_a_message_that_is_not_an_object_is_a_wire_error(raw):
    with pytest.raises(WireError):
        from_wire(raw)


# --- range and shape: a forged or corrupt message never reaches the core ---

SAMPLES = {cls: to_wire(cls(term=3, src="n1", dst="n2")) for cls in MESSAGE_TYPES.values()}
SAMPLES[AppendEntries] = GOOD_APPEND
INT_FIELDS = [
    (cls, name)
    for cls, raw in SAMPLES.items()
    for name, value in raw.items()
    if type(value) is int and name != "v"
]
OUT_OF_RANGE = [2**62 + 1, 2**63, 2**64 - 1, 2**64, 10**30, -1, -(2**63)]
WRONG_TYPES = [1.0, "1", True, None, [1], {"n": 1}]


def test_every_integer_field_of_every_kind_is_checked():
    checked = {(cls.kind, name) for cls, name in INT_FIELDS}
    assert ("heartbeat", "commit") in checked and ("append_response", "conflict_index") in checked
    assert {kind for kind, _ in checked} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("value", OUT_OF_RANGE + WRONG_TYPES, ids=repr)
@pytest.mark.parametrize(("cls", "name"), INT_FIELDS, ids=lambda x: getattr(x, "kind", x))
def test_an_integer_field_out_of_range_or_of_another_type_is_a_wire_error(cls, name, value):
    raw = {**SAMPLES[cls], name: value}
    with pytest.raises(WireError, match=name):
        from_wire(raw)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda cls: cls.kind)
def test_the_largest_allowed_integers_still_decode(cls):
    raw = {name: MAX_WIRE_INT if (cls, name) in INT_FIELDS else v for name, v in SAMPLES[cls].items()}
    if cls is AppendEntries:
        raw |= {"prev_index": 1, "prev_term": 1, "entries": [[MAX_WIRE_INT, 2, "", "command"]]}
    assert from_wire(raw).term == MAX_WIRE_INT


@pytest.mark.parametrize(
    ("name", "value"),
    [("src", "n" * 256), ("src", 7), ("dst", None), ("src", ["n1"])],
)
def test_names_must_be_short_strings(name, value):
    raw = {**GOOD_APPEND, name: value}
    with pytest.raises(WireError, match=name):
        from_wire(raw)


def test_a_read_context_must_be_a_short_string():
    raw = to_wire(ReadIndexRequest(term=1, src="a", dst="b", ctx="c"))
    assert from_wire({**raw, "ctx": "x" * 128}).ctx == "x" * 128
    for bad in ("x" * 129, 5, None):
        with pytest.raises(WireError, match="ctx"):
            from_wire({**raw, "ctx": bad})


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([[2, 3, "", "command"]], id="skips_an_index"),
        pytest.param([[2, 1, "", "command"]], id="repeats_prev_index"),
        pytest.param([[2, 2, "", "command"], [2, 2, "", "command"]], id="repeats_an_index"),
        pytest.param([[3, 2, "", "command"]], id="term_beyond_the_leaders"),
        pytest.param([[0, 2, "", "command"]], id="term_below_prev_term"),
        pytest.param([[2, 2, "", "command"], [1, 3, "", "command"]], id="terms_decrease"),
        pytest.param([[2, 2, "", "command", "extra"]], id="five_fields"),
        pytest.param([{"term": 2}], id="an_object"),
        pytest.param([[2.0, 2, "", "command"]], id="float_term"),
        pytest.param([[2, True, "", "command"]], id="boolean_index"),
        pytest.param([[2, 2, "", 7]], id="kind_not_a_string"),
        pytest.param({"0": [2, 2, "", "command"]}, id="entries_an_object"),
    ],
)
def test_entries_must_be_a_run_of_a_leaders_log(entries):
    with pytest.raises(WireError):
        from_wire({**GOOD_APPEND, "entries": entries})


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({"index": "1", "term": 1, "config": {"voters": ["a"]}}, id="index_a_string"),
        pytest.param({"index": 2**63, "term": 1, "config": {"voters": ["a"]}}, id="index_beyond_range"),
        pytest.param({"index": 1, "term": -1, "config": {"voters": ["a"]}}, id="negative_term"),
        pytest.param({"index": 1, "term": 1, "config": {"voters": "a"}}, id="voters_a_string"),
        pytest.param({"index": 1, "term": 1, "config": {"voters": []}}, id="no_voters"),
        pytest.param({"index": 1, "term": 1, "config": {"voters": [1]}}, id="voter_not_a_string"),
        pytest.param({"index": 1, "term": 1, "config": {"voters": ["a"] * 65}}, id="too_many_voters"),
    ],
)
def test_snapshot_metadata_is_checked_like_everything_else(meta):
    raw = {"v": WIRE_VERSION, "kind": "snapshot", "term": 1, "src": "a", "dst": "b"}
    with pytest.raises(WireError):
        from_wire({**raw, "snapshot": {"meta": meta, "data": ""}})


@settings(derandomize=True, deadline=None)
@given(config=configs())
def test_a_configuration_survives_its_log_entry_encoding(config):
    """A CONFIG entry's data is the configuration's wire form: the log and snapshots agree on it."""
    assert decode_config(encode_config(config)) == config


def test_a_fixed_clusters_configuration_keeps_its_old_wire_form():
    """Without learners or addresses the form is the one snapshots on disk already hold."""
    assert config_to_wire(ClusterConfig(("a", "b"))) == {"voters": ["a", "b"]}
    assert config_from_wire({"voters": ["a", "b"]}) == ClusterConfig(("a", "b"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"learners": ["a"]}',
        b'{"voters": ["a"], "learners": ["a"]}',
        b'{"voters": [], "addresses": 5}',
    ],
    ids=["empty", "not_an_object", "no_voters_key", "member_twice", "addresses_not_an_object"],
)
def test_a_malformed_configuration_entry_is_a_wire_error(data):
    with pytest.raises(WireError):
        decode_config(data)
