"""RaftLog: the in-memory log after the last snapshot — lookups, the consistency check, compaction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from todonode.raft import ClusterConfig, CompactedError, Entry, RaftLog, Snapshot, SnapshotMeta

from .harness import IDS, config_entry, log_of


def snapshot_at(index: int, term: int) -> Snapshot:
    return Snapshot(SnapshotMeta(index=index, term=term, config=ClusterConfig(IDS)), data=b"state")


def test_empty_log():
    log = RaftLog()
    assert (log.first_index, log.last_index, log.last_term) == (1, 0, 0)
    assert (log.term_at(0), log.term_at(1)) == (0, None)


def test_term_at_each_index_and_none_past_the_end():
    log = RaftLog(entries=log_of(1, 1, 2))
    assert [log.term_at(i) for i in range(5)] == [0, 1, 1, 2, None]


def test_term_at_snapshot_boundary():
    """The snapshot's last index keeps its term; anything before it is gone."""
    log = RaftLog(snapshot_index=3, snapshot_term=2, entries=log_of(1, 2, 2, 3))
    assert (log.first_index, log.last_index, log.last_term) == (4, 4, 3)
    assert (log.term_at(3), log.term_at(4)) == (2, 3)
    with pytest.raises(CompactedError):
        log.term_at(2)


def test_constructor_skips_entries_the_snapshot_covers_and_refuses_gaps():
    assert RaftLog(2, 1, log_of(1, 1, 1)).entries(3) == [Entry(1, 3)]
    with pytest.raises(ValueError):
        RaftLog(entries=(Entry(1, 1), Entry(1, 3)))


@pytest.mark.parametrize(
    ("index", "term", "expected"),
    [(0, 0, True), (2, 1, True), (3, 2, True), (3, 1, False), (4, 2, False), (0, 1, False)],
)
def test_matches(index, term, expected):
    """§5.3 consistency check: do we hold an entry at ``index`` with ``term``?"""
    assert RaftLog(entries=log_of(1, 1, 2)).matches(index, term) is expected


def test_matches_anything_inside_the_snapshot():
    """Entries inside a snapshot are committed, and committed entries match every leader's log."""
    log = RaftLog(snapshot_index=5, snapshot_term=3)
    assert log.matches(2, 1) and log.matches(5, 3)
    assert not log.matches(5, 2)


def test_entries_range_limits_and_boundaries():
    log = RaftLog(snapshot_index=2, snapshot_term=1, entries=log_of(1, 1, 1, 2, 2))
    assert [e.index for e in log.entries(3)] == [3, 4, 5]
    assert [e.index for e in log.entries(3, 4)] == [3, 4]
    assert [e.index for e in log.entries(3, 99, max_count=2)] == [3, 4]
    assert log.entries(6) == []
    with pytest.raises(CompactedError):
        log.entries(2)


def test_append_refuses_a_gap():
    log = RaftLog(entries=log_of(1))
    with pytest.raises(ValueError):
        log.append([Entry(1, 3)])


def test_truncate_from_drops_the_suffix():
    """§5.3: delete the conflicting entry and all that follow it."""
    log = RaftLog(entries=log_of(1, 1, 2, 2))
    log.truncate_from(3)
    assert (log.last_index, log.last_term) == (2, 1)
    log.truncate_from(9)
    assert log.last_index == 2


def test_truncate_inside_the_snapshot_is_refused():
    log = RaftLog(snapshot_index=2, snapshot_term=1, entries=log_of(1, 1, 1))
    with pytest.raises(CompactedError):
        log.truncate_from(2)


def test_compact_in_the_middle_keeps_the_rest():
    log = RaftLog(entries=log_of(1, 1, 2, 2))
    log.compact(2, 1)
    assert (log.snapshot_index, log.snapshot_term, log.first_index, log.last_index) == (2, 1, 3, 4)
    assert log.entries(3) == [Entry(2, 3), Entry(2, 4)]


def test_compact_at_the_last_index_empties_the_log_but_keeps_its_end():
    log = RaftLog(entries=log_of(1, 2))
    log.compact(2, 2)
    assert (log.first_index, log.last_index, log.last_term) == (3, 2, 2)
    assert log.entries(3) == []


def test_compact_never_goes_backwards():
    log = RaftLog(entries=log_of(1, 1, 1))
    log.compact(2, 1)
    log.compact(1, 1)
    log.compact(2, 1)
    assert (log.snapshot_index, log.last_index) == (2, 3)


def test_reset_replaces_the_whole_log_with_a_snapshot_point():
    log = RaftLog(entries=log_of(1, 1, 2))
    log.restore(snapshot_at(7, 4))
    assert (log.first_index, log.last_index, log.last_term, log.term_at(7)) == (8, 7, 4, 4)


@pytest.mark.parametrize(("index", "first"), [(1, 1), (2, 2), (4, 2), (5, 5)])
def test_first_index_of_term(index, first):
    """Fast back-off, follower side: where does the run holding the entry at ``index`` start?"""
    assert RaftLog(entries=log_of(1, 2, 2, 2, 3)).first_index_of_term(index) == first


def test_first_index_of_term_stops_at_the_snapshot():
    log = RaftLog(snapshot_index=3, snapshot_term=2, entries=log_of(1, 2, 2, 2, 2))
    assert log.first_index_of_term(5) == 4


@pytest.mark.parametrize(("term", "last"), [(1, 1), (2, 3), (4, 5), (3, None), (5, None)])
def test_last_index_of_term(term, last):
    """Fast back-off, leader side: the last entry the leader holds of the follower's conflicting term."""
    assert RaftLog(entries=log_of(1, 2, 2, 4, 4)).last_index_of_term(term) == last


@pytest.mark.parametrize(
    ("last_index", "last_term", "expected"),
    [(3, 2, True), (4, 2, True), (9, 1, False), (2, 2, False), (1, 3, True)],
    ids=["same", "longer", "older_term", "shorter", "later_term"],
)
def test_is_up_to_date(last_index, last_term, expected):
    """§5.4.1: the later last term wins; with equal last terms, the longer log."""
    assert RaftLog(entries=log_of(1, 1, 2)).is_up_to_date(last_index, last_term) is expected


@settings(derandomize=True, deadline=None)
@given(terms=st.lists(st.integers(1, 4), min_size=1, max_size=20).map(sorted), data=st.data())
def test_compaction_preserves_every_term_from_the_snapshot_on(terms, data):
    log = RaftLog(entries=log_of(*terms))
    before = {i: log.term_at(i) for i in range(len(terms) + 2)}
    cut = data.draw(st.integers(1, len(terms)))
    log.compact(cut, before[cut])
    assert {i: log.term_at(i) for i in range(cut, len(terms) + 2)} == {
        i: before[i] for i in range(cut, len(terms) + 2)
    }
    if cut > 1:
        with pytest.raises(CompactedError):
            log.term_at(cut - 1)


# ======================================================================= the durable boundary


def test_a_log_read_back_from_disk_is_durable_and_has_nothing_to_persist():
    log = RaftLog(entries=log_of(1, 1))
    assert (log.durable_index, log.has_unstable()) == (2, False)
    assert log.take_unstable() == (None, ())


def test_appended_entries_count_as_durable_only_once_persisted():
    """Handed out is not durable: a leader writes its entries while it replicates them."""
    log = RaftLog(entries=log_of(1, 1))
    log.append([Entry(1, 3), Entry(1, 4)])
    assert log.has_unstable()
    snapshot, entries = log.take_unstable()
    assert (snapshot, entries) == (None, (Entry(1, 3), Entry(1, 4)))
    assert (log.has_unstable(), log.durable_index) == (False, 2)
    log.persisted(snapshot, entries)
    assert log.durable_index == 4


def test_each_entry_is_handed_out_once():
    log = RaftLog()
    log.append([Entry(1, 1)])
    log.take_unstable()
    log.append([Entry(1, 2)])
    assert log.take_unstable() == (None, (Entry(1, 2),))
    assert log.take_unstable() == (None, ())


def test_truncating_durable_entries_lowers_the_durable_index_and_hands_out_the_replacements():
    """§5.3: what the disk holds from the cut on is no longer this log."""
    log = RaftLog(entries=log_of(1, 1, 1, 1))
    log.truncate_from(3)
    assert log.durable_index == 2
    log.append([Entry(2, 3)])
    assert log.take_unstable() == (None, (Entry(2, 3),))


def test_truncating_entries_handed_out_but_not_persisted_hands_out_their_replacements():
    log = RaftLog(entries=log_of(1, 1))
    log.append([Entry(1, 3), Entry(1, 4)])
    log.take_unstable()
    log.truncate_from(4)
    log.append([Entry(2, 4)])
    assert log.take_unstable() == (None, (Entry(2, 4),))


def test_a_batch_persisted_after_a_truncation_does_not_make_the_replacements_durable():
    """A batch handed out before a conflicting suffix was replaced reports entries the log no longer
    holds: that must not count the replacements, still unwritten, as durable."""
    log = RaftLog(entries=log_of(1, 1))
    log.append([Entry(1, 3), Entry(1, 4)])
    stale = log.take_unstable()
    log.truncate_from(4)
    log.append([Entry(2, 4), Entry(2, 5)])
    log.persisted(*stale)
    assert log.durable_index == 2
    replacements = log.take_unstable()
    assert replacements == (None, (Entry(2, 4), Entry(2, 5)))
    log.persisted(*replacements)
    assert log.durable_index == 5


def test_restore_hands_out_the_snapshot_and_keeps_only_the_old_snapshot_durable():
    """Thesis §5: until the new snapshot is on disk, only what the previous one covered is."""
    log = RaftLog(snapshot_index=2, snapshot_term=1, entries=log_of(1, 1, 1, 1))
    log.restore(snapshot_at(9, 3))
    assert (log.durable_index, log.has_unstable()) == (2, True)
    log.append([Entry(3, 10)])
    batch = log.take_unstable()
    assert batch == (snapshot_at(9, 3), (Entry(3, 10),))
    assert not log.has_unstable()
    log.persisted(*batch)
    assert log.durable_index == 10


def test_a_batch_persisted_after_a_restore_does_not_make_the_new_snapshot_durable():
    log = RaftLog(entries=log_of(1, 1))
    log.append([Entry(1, 3)])
    stale = log.take_unstable()
    log.restore(snapshot_at(9, 2))
    log.persisted(*stale)
    assert log.durable_index < 9
    log.persisted(*log.take_unstable())
    assert log.durable_index == 9


def test_compacted_entries_are_never_handed_out():
    log = RaftLog(entries=log_of(1))
    log.append([Entry(1, 2), Entry(1, 3)])
    log.compact(2, 1)
    assert log.take_unstable() == (None, (Entry(1, 3),))


# ============================================================ the configurations the log holds (thesis §4.1)

BOOT = ClusterConfig(("n1", "n2", "n3"))
WITH_N4 = ClusterConfig(("n1", "n2", "n3"), ("n4",))
N4_VOTES = ClusterConfig(("n1", "n2", "n3", "n4"))


def test_a_configuration_is_in_effect_as_soon_as_its_entry_is_appended():
    """Thesis §4.1: a server uses the latest configuration in its log, whether or not that entry is
    committed — so the log, which knows nothing of commits, can answer alone."""
    log = RaftLog(entries=log_of(1), config=BOOT)
    assert (log.config, log.config_index) == (BOOT, 0)
    log.append([config_entry(1, 2, WITH_N4.voters, WITH_N4.learners)])
    assert (log.config, log.config_index) == (WITH_N4, 2)
    assert (log.config_at(1), log.config_at(2), log.config_at(3)) == (BOOT, WITH_N4, WITH_N4)


def test_a_log_read_back_from_disk_uses_the_latest_configuration_among_its_entries():
    entries = (
        Entry(1, 1),
        config_entry(1, 2, WITH_N4.voters, WITH_N4.learners),
        config_entry(1, 3, N4_VOTES.voters),
    )
    assert RaftLog(entries=entries, config=BOOT).config == N4_VOTES


def test_cutting_a_configuration_entry_goes_back_to_the_configuration_before_it():
    """Thesis §4.1: an uncommitted configuration entry can be cut away when leadership changes; the
    server then falls back to the configuration before it in its log."""
    log = RaftLog(entries=log_of(1), config=BOOT)
    log.append([config_entry(1, 2, WITH_N4.voters, WITH_N4.learners), config_entry(1, 3, N4_VOTES.voters)])
    log.truncate_from(3)
    assert (log.config, log.config_index) == (WITH_N4, 2)
    log.truncate_from(2)
    assert (log.config, log.config_index) == (BOOT, 0)
    log.append([Entry(2, 2)])
    assert log.config == BOOT


def test_compaction_keeps_the_configuration_in_effect_at_the_cut():
    """Compaction forgets entries, never the configuration they left in effect."""
    log = RaftLog(entries=log_of(1), config=BOOT)
    log.append(
        [
            config_entry(1, 2, WITH_N4.voters, WITH_N4.learners),
            Entry(1, 3),
            config_entry(1, 4, N4_VOTES.voters),
        ]
    )
    log.compact(3, 1)
    assert (log.config_at(3), log.config) == (WITH_N4, N4_VOTES)
    log.truncate_from(4)
    assert log.config == WITH_N4
    log.compact(4, 1)
    assert log.config == WITH_N4


def test_a_restored_snapshot_brings_its_configuration():
    """Thesis §5.1: a snapshot records the configuration in effect at its last index; restoring it
    replaces whatever the discarded log said."""
    log = RaftLog(entries=(config_entry(1, 1, N4_VOTES.voters),), config=BOOT)
    snapshot = Snapshot(SnapshotMeta(index=9, term=3, config=WITH_N4), data=b"")
    log.restore(snapshot)
    assert (log.config, log.config_index) == (WITH_N4, 9)
