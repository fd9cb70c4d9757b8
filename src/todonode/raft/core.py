"""Raft as a deterministic state machine (after the paper, Ongaro's thesis and etcd-io/raft).

Rules this file lives by:

- No I/O, no clock, no global randomness. Time is ``tick()``; randomness is the injected
  ``random.Random``. The same inputs always give the same outputs, which is what lets the simulator
  replay any failure from its seed.
- Every effect leaves through ``ready()``: what to persist, what to send, what to apply. The caller
  does it (see ``ready.py`` for the order) and then calls ``advance()``.
- Each rule of the paper is a small named method whose comment cites it, so a test can name the rule
  it protects and a planted bug can replace exactly one rule.
- A role is a pair of functions, set together when the role changes (``_set_role``): a step function
  for messages (``_step_follower``, ``_step_candidate``, ``_step_leader``) and a tick function
  (``_tick_election``, ``_tick_heartbeat``). ``step`` keeps only what every role does alike — the
  term checks and vote requests — so no handler asks which role it is in.
- How each vote request was answered, and by which rule, is reported in ``Ready.votes``; reporting
  never changes what is decided.
- Majorities are counted by ``quorum.py`` and durability is tracked by ``log.py``: this file hands
  them facts (who acknowledged what, what was persisted) and never does either sum itself.

Where each rule lives:

    §5.1 terms                        _accept_higher_term, _answer_stale
    §5.2 elections                    _tick_election, _start_election, _become_candidate,
                                      _may_vote_for, _vote_refusal, _tally_votes
    §5.3 replication                  _handle_append, _append_from_leader, _reject_append,
                                      _handle_append_response, _maybe_commit, _committed_to_apply
    §5.4.1 election restriction       _log_is_up_to_date
    §5.4.2 no commit by counting      _may_commit_by_count
    thesis §3.10 leadership transfer  transfer_leadership, _handle_timeout_now
    thesis §4.1 membership changes    propose_config_change, _config_in_effect, _one_change_at_a_time,
                                      _committed_in_own_term (and membership.py)
    thesis §4.2.1 learners            _electorate, _may_campaign, _track_members
    thesis §4.2.2 removing the leader _config_change_committed, _leave_after_removal, _may_campaign
    thesis §4.2.3 removed servers     _ignores_vote_request
    thesis §4.2.3 leader lease        _in_leader_lease
    thesis §5 snapshots               compact, _handle_snapshot, _send_snapshot
    thesis §6.2 CheckQuorum           _quorum_active
    thesis §6.4 ReadIndex             _leader_read, _release_confirmed_reads
    thesis §6.4.1 lease reads         _lease_ticks, _lease_holds, _renew_lease, _send_timeout_now,
                                      _in_leader_lease (and lease.py)
    thesis §9.6 PreVote               _become_pre_candidate, _handle_vote_request
    thesis §10.2.1 parallel writes    _maybe_commit counts our own log up to ``log.durable_index``

Leader preference (todonode's addition): the voters are listed most preferred first. A leader that
sees a more preferred voter alive and caught up for ``settle_ticks`` hands leadership to it with
TimeoutNow. Preference never touches elections, so a stale node can never win by being preferred.

Membership (membership.py has the design): every rule that counts, campaigns, votes, transfers or
tracks followers asks ``config`` — the configuration in effect at that moment — and keeps no copy of
its own, so each stays correct as the configuration changes under it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .lease import ReadLease, lease_ticks
from .log import CompactedError, RaftLog
from .membership import ConfigChange, config_after
from .messages import (
    AppendEntries,
    AppendResponse,
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    Role,
    Snapshot,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
    encode_config,
)
from .progress import Progress, ReplicationState
from .quorum import MajorityConfig, VoteResult
from .ready import (
    ALREADY_VOTED,
    CHANGE_IN_FLIGHT,
    FOLLOWS_LEADER,
    LEADER_LEASE,
    LOG_BEHIND,
    NO_LEADER,
    NOT_A_VOTER,
    NOT_LEADER,
    RECOVERING,
    STALE_TERM,
    TERM_NOT_COMMITTED,
    TRANSFERRING,
    VOTE_GRANTED,
    Accepted,
    ReadState,
    Ready,
    Refused,
    SoftState,
    VoteDecision,
)


@dataclass(frozen=True, slots=True)
class RaftOptions:
    node_id: str
    # The configuration a brand-new cluster starts from; once the log or a snapshot holds one, that one
    # is the truth. No voters at all for a node joining a cluster: it waits to hear from a leader.
    config: ClusterConfig
    election_ticks: int = 10  # a follower waits a random time in [election_ticks, 2*election_ticks)
    heartbeat_ticks: int = 1
    pre_vote: bool = True  # thesis §9.6: a partitioned node cannot disrupt the cluster on return
    check_quorum: bool = True  # thesis §6.2: a leader that lost its majority steps down
    prefer_leader: bool = True  # hand leadership to the most preferred live, caught-up voter
    settle_ticks: int = 30  # ... once it has stayed caught up this long
    max_entries_per_append: int = 512
    max_bytes_per_append: int = 1 << 20
    max_inflight: int = 64
    snapshot_timeout_ticks: int = 100  # give up waiting for a snapshot reply and probe again
    # Lease reads (lease.py): how many ticks clocks may drift apart within an election timeout. None:
    # every linearizable read takes a heartbeat round (ReadIndex).
    lease_drift_ticks: int | None = None


@dataclass(frozen=True, slots=True)
class PeerStatus:
    node_id: str
    match: int
    next: int
    state: str
    recent_active: bool
    last_contact_ticks: int | None  # ticks since we last heard from it; None if never
    voter: bool  # False for a learner (or a member the latest, uncommitted change removed)


@dataclass(frozen=True, slots=True)
class Status:
    node_id: str
    role: Role
    term: int
    leader: str | None
    commit: int
    last_index: int
    snapshot_index: int
    transferee: str | None
    peers: tuple[PeerStatus, ...]  # filled in on the leader only: every voter and learner
    quorum: int  # how many voters make a majority (0 while no voter is known)
    # Leader only (None elsewhere): voters heard from within an election timeout, this one included.
    active_voters: int | None


@dataclass(slots=True)
class _PendingRead:
    ctx: str
    requester: str
    index: int = 0
    round: int = 0


class RaftNode:
    def __init__(
        self,
        options: RaftOptions,
        rng: random.Random,
        *,
        hard_state: HardState | None = None,
        snapshot: Snapshot | None = None,
        entries: tuple[Entry, ...] | list[Entry] = (),
        vote_floor: int = 0,
    ):
        """Restore a node from what it persisted. ``vote_floor`` is for a node that lost log entries it
        once held (a damaged disk): it may have acknowledged some of them as part of a majority, so it
        takes no part in elections — no votes, no campaigns — until its log reaches that index again.
        Otherwise its vote could elect a leader that lacks a committed entry."""
        self.id = options.node_id
        self.opts = options
        self.rng = rng

        hard_state = hard_state or HardState()
        snap_index = snapshot.meta.index if snapshot else 0
        snap_term = snapshot.meta.term if snapshot else 0
        # A snapshot's configuration, then those of the log's own entries, override the bootstrap one.
        bootstrap = snapshot.meta.config if snapshot else options.config
        self.log = RaftLog(snap_index, snap_term, entries, bootstrap)
        self._vote_floor = vote_floor
        self.snapshot = snapshot  # the newest snapshot, sent to followers we cannot catch up from the log

        self.term = hard_state.term
        self.vote = hard_state.vote
        self.commit = min(max(hard_state.commit, snap_index), self.log.last_index)
        self.leader: str | None = None
        # What the current role does with a message and with a tick: chosen when the role changes.
        self.role = Role.FOLLOWER
        self._step_role: Callable[[Message], None] = self._step_follower
        self._tick_role: Callable[[], None] = self._tick_election

        self._now = 0  # ticks since start: the only notion of time here
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = 0
        self._reset_election_timer()
        self._votes: dict[str, bool] = {}
        self._progress: dict[str, Progress] = {}
        self._departing: list[str] = []  # leader: removed members tracked until told of their removal
        self._transferee: str | None = None
        self._transfer_elapsed = 0
        self._round = 0  # heartbeat round; a read is confirmed when a majority answered its round
        self._read_round_wanted = False
        self._reads_awaiting_term_commit: list[_PendingRead] = []
        self._reads_awaiting_quorum: list[_PendingRead] = []
        self._remote_reads: set[str] = set()  # ctxs this follower forwarded to the leader
        self._lease: ReadLease | None = None
        if options.lease_drift_ticks is not None:
            if not options.check_quorum:
                raise ValueError(
                    "lease reads need check_quorum: it is what keeps voters from deposing a leader"
                )
            self._lease = ReadLease(self._lease_ticks(options.lease_drift_ticks))
        self._lease_forfeited = False  # a TimeoutNow went out in this term (_send_timeout_now)

        # Bookkeeping for ready(): what has been handed to the caller so far.
        self._handed_hard = hard_state
        self._handed_soft = self._soft_state()
        self._applied = snap_index  # highest index handed out for applying
        self._msgs: list[Message] = []
        self._read_states: list[ReadState] = []
        self._failed_reads: list[str] = []
        self._vote_decisions: list[VoteDecision] = []
        self._ready_outstanding = False

    # ============================================================================ inputs: the public API

    def tick(self) -> None:
        """One unit of time has passed."""
        self._now += 1
        self._tick_role()

    def propose(self, data: bytes) -> Accepted | Refused:
        """Append a client command to the leader's log. Accepted is not committed: wait for it to be
        applied at the returned index with the returned term."""
        refused = self._refuse_proposal()
        if refused is not None:
            return refused
        entry = self._append_own(data, EntryKind.COMMAND)
        return Accepted(entry.index, entry.term)

    def propose_config_change(self, change: ConfigChange) -> Accepted | Refused:
        """Add a learner, promote one or remove a member (thesis §4; membership.py): one member per
        change, one change at a time. The new configuration is in effect on this leader at once and on
        each follower as soon as the entry reaches its log. Accepted is not committed: the change is
        final once the entry is applied at the returned index with the returned term."""
        refused = self._refuse_proposal()
        if refused is not None:
            return refused
        if not self._committed_in_own_term():
            return Refused(TERM_NOT_COMMITTED)
        if not self._one_change_at_a_time():
            return Refused(CHANGE_IN_FLIGHT)
        config = config_after(self.config, change)
        if isinstance(config, Refused):
            return config
        entry = self._append_own(encode_config(config), EntryKind.CONFIG)
        return Accepted(entry.index, entry.term)

    @property
    def config(self) -> ClusterConfig:
        """The configuration in effect: the latest in the log, committed or not (thesis §4.1)."""
        return self._config_in_effect()

    @property
    def committed_config(self) -> ClusterConfig:
        """The latest configuration known to be committed: final, whoever leads next."""
        return self.log.config_at(self.commit)

    def config_at(self, index: int) -> ClusterConfig:
        """The configuration in effect once the log ends at ``index`` (at or after the log's first
        index): the one a snapshot taken at ``index`` must carry."""
        return self.log.config_at(index)

    def read_index(self, ctx: str) -> Refused | None:
        """Ask for a linearizable read (ReadIndex, thesis §6.4). The answer is a ReadState with the
        same ``ctx`` in a later Ready (or ``ctx`` in ``failed_reads``)."""
        if self.role is Role.LEADER:
            self._leader_read(_PendingRead(ctx, self.id))
            return None
        if self.leader is None:
            return Refused(NO_LEADER)
        self._remote_reads.add(ctx)
        self._send(ReadIndexRequest(term=self.term, src=self.id, dst=self.leader, ctx=ctx))
        return None

    def expire_lease(self) -> None:
        """The caller's ticks fell behind real time (its loop or process was stopped): no read is
        answered by lease until a heartbeat round sent from now on is confirmed (lease.py)."""
        if self._lease is not None:
            self._lease.expire()

    def transfer_leadership(self, target: str) -> Refused | None:
        """Hand leadership to ``target`` (thesis §3.10): stop proposals, catch it up, send TimeoutNow,
        and give up after an election timeout if it has not taken over."""
        if self.role is not Role.LEADER:
            return Refused(NOT_LEADER if self.leader else NO_LEADER, self.leader)
        if target == self.id or self._transferee == target:
            return None
        if target not in self.config.voters:
            return Refused(NOT_A_VOTER, self.id)  # a learner or a stranger could never win the election
        self._transferee = target
        self._transfer_elapsed = 0
        if self._progress[target].match == self.log.last_index:
            self._send_timeout_now(target)
        return None

    def compact(self, snapshot: Snapshot, retain: int = 0) -> None:
        """The caller saved a snapshot of the state machine at ``snapshot.meta.index`` (which it has
        applied). Keep it for lagging followers and drop log entries it covers, except the last
        ``retain`` of them, so followers slightly behind still catch up from the log."""
        meta = snapshot.meta
        if meta.index > self._applied:
            raise ValueError(f"snapshot at {meta.index} is ahead of the applied index {self._applied}")
        if meta.index >= self.log.snapshot_index and meta.config != self.log.config_at(meta.index):
            # A follower installing it would take this configuration for the truth at that index.
            raise ValueError(
                f"snapshot at {meta.index} carries {meta.config}, but {self.log.config_at(meta.index)} "
                "is in effect there (build it with config_at)"
            )
        if self.snapshot is None or meta.index > self.snapshot.meta.index:
            self.snapshot = snapshot
        cut = meta.index - retain
        if cut > self.log.snapshot_index:
            term = self.log.term_at(cut)
            assert term is not None, "the cut is at or below the applied index, so inside the log"
            self.log.compact(cut, term)

    def step(self, m: Message) -> None:
        """Handle one message from a peer. Misdelivered messages, and vote requests from servers that
        are not voters here, are ignored.

        The term checks (§5.1) and vote requests (§5.2) are the same in every role; everything else
        goes to the step function of the current role."""
        if m.dst != self.id or m.src == self.id:
            return
        if isinstance(m, VoteRequest) and self._ignores_vote_request(m):
            self._decided(m, NOT_A_VOTER)
            return
        if m.term > self.term:
            if not self._accept_higher_term(m):
                return
        elif m.term < self.term:
            self._answer_stale(m)
            return
        if isinstance(m, VoteRequest):
            self._handle_vote_request(m)
        else:
            self._step_role(m)

    # ============================================================================ output: Ready / advance

    def has_ready(self) -> bool:
        if self._ready_outstanding:
            return False
        self._flush_sends()
        # Compared field by field: the runtime asks several times per write, and building the two
        # states to compare them cost more than everything else here.
        hard, soft = self._handed_hard, self._handed_soft
        return bool(
            self.log.has_unstable()
            or self._msgs
            or self._applied < self.commit
            or (self.term, self.vote, self.commit) != (hard.term, hard.vote, hard.commit)
            or self._read_states
            or self._failed_reads
            or self._vote_decisions
            or (self.role, self.leader, self.term) != (soft.role, soft.leader, soft.term)
        )

    def ready(self) -> Ready:
        if self._ready_outstanding:
            raise RuntimeError("ready() called again before advance()")
        self._flush_sends()
        hard = self._hard_state()
        soft = self._soft_state()
        snapshot, entries = self.log.take_unstable()
        vote_changed = (hard.term, hard.vote) != (self._handed_hard.term, self._handed_hard.vote)
        rd = Ready(
            hard_state=hard if hard != self._handed_hard else None,
            entries=entries,
            snapshot=snapshot,
            messages=tuple(self._msgs),
            committed=tuple(self._committed_to_apply()),
            read_states=tuple(self._read_states),
            failed_reads=tuple(self._failed_reads),
            soft_state=soft if soft != self._handed_soft else None,
            votes=tuple(self._vote_decisions),
            must_sync=bool(entries) or snapshot is not None or vote_changed,
            send_before_persisting=self.role is Role.LEADER and not vote_changed,
        )
        self._handed_hard, self._handed_soft = hard, soft
        if rd.committed:
            self._applied = rd.committed[-1].index
        self._msgs, self._read_states, self._failed_reads = [], [], []
        self._vote_decisions = []
        self._ready_outstanding = True
        return rd

    def advance(self, ready: Ready) -> None:
        """The caller has done everything ``ready`` asked (see ready.py)."""
        self._ready_outstanding = False
        self.log.persisted(ready.snapshot, ready.entries)
        if self.role is Role.LEADER:
            self._maybe_commit()  # our own write may have been what a majority was waiting for

    @property
    def votes_granted(self) -> int:
        """Votes granted in this node's latest campaign (pre-vote or vote), its own included."""
        return sum(self._votes.values())

    def status(self) -> Status:
        voters = self.config.voters
        peers = tuple(
            PeerStatus(
                node_id=peer,
                match=pr.match,
                next=pr.next,
                state=pr.state.value,
                recent_active=pr.recent_active,
                last_contact_ticks=None if pr.last_contact_tick is None else self._now - pr.last_contact_tick,
                voter=peer in voters,
            )
            for peer, pr in self._progress.items()
        )
        return Status(
            node_id=self.id,
            role=self.role,
            term=self.term,
            leader=self.leader,
            commit=self.commit,
            last_index=self.log.last_index,
            snapshot_index=self.log.snapshot_index,
            transferee=self._transferee,
            peers=peers,
            quorum=self.config.quorum() if voters else 0,
            active_voters=self._count_active_voters() if self.role is Role.LEADER else None,
        )

    def _count_active_voters(self) -> int:
        live = [self.id, *(peer for peer, pr in self._progress.items() if self._is_live(pr))]
        return self.config.majority().voters_among(live)

    # ============================================================ roles: one step and tick function each

    def _step_follower(self, m: Message) -> None:
        """A follower answers its leader (§5.3, thesis §5), campaigns at once when the leader hands
        over (thesis §3.10), and learns the outcome of reads it forwarded (thesis §6.4)."""
        match m:
            case AppendEntries():
                self._handle_append(m)
            case Heartbeat():
                self._handle_heartbeat(m)
            case InstallSnapshot():
                self._handle_snapshot(m)
            case TimeoutNow():
                self._handle_timeout_now(m)
            case ReadIndexRequest():
                self._refuse_read_index(m)
            case ReadIndexResponse():
                self._handle_read_index_response(m)
            # Vote and replication answers arrive here only late, from a campaign or a leadership
            # this node has left; they count for nothing now.

    def _step_candidate(self, m: Message) -> None:
        """A pre-candidate or candidate counts votes (§5.2, thesis §9.6) until it wins, loses, or
        hears from a leader of its term."""
        match m:
            case VoteResponse():
                self._handle_vote_response(m)
            case AppendEntries() | Heartbeat() | InstallSnapshot():
                # §5.2: a leader of our term won this election; follow it.
                self._follow_leader_of_this_term(m)
            case TimeoutNow() | ReadIndexRequest() | ReadIndexResponse():
                self._step_follower(m)  # a hand-over and reads are handled as a follower does

    def _step_leader(self, m: Message) -> None:
        """A leader takes its followers' answers (§5.3) and serves reads they forward (thesis §6.4)."""
        match m:
            case AppendResponse():
                self._handle_append_response(m)
            case HeartbeatResponse():
                self._handle_heartbeat_response(m)
            case ReadIndexRequest():
                self._leader_read(_PendingRead(m.ctx, m.src))
            case AppendEntries() | Heartbeat() | InstallSnapshot():
                # Another leader of our term: Election Safety (§5.2) is already broken (a voter forgot
                # its vote). Stepping down leaves one leader taking writes instead of two.
                self._follow_leader_of_this_term(m)
            # TimeoutNow is for a follower to take over from us, and vote answers are late: ignored.

    def _follow_leader_of_this_term(self, m: AppendEntries | Heartbeat | InstallSnapshot) -> None:
        """§5.2: whoever hears from the leader of its own term becomes its follower, then answers."""
        self._become_follower(self.term, m.src)
        self._step_follower(m)

    def _tick_election(self) -> None:
        """Followers and candidates: §5.2, no word from a leader for an election timeout; try to
        become one."""
        self._election_elapsed += 1
        if self._election_elapsed >= self._randomized_timeout and self._may_campaign():
            self._start_election(pre_vote=self.opts.pre_vote, transfer=False)

    def _tick_heartbeat(self) -> None:
        """The leader: heartbeats (§5.2), CheckQuorum (thesis §6.2), giving up a stalled hand-over
        (thesis §3.10), restarting stalled replication and handing over to a preferred voter."""
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._transferee is not None:
            self._transfer_elapsed += 1
            if self._transfer_elapsed >= self.opts.election_ticks:
                self._transferee = None  # §3.10: the target did not take over in time; resume service
        if self._election_elapsed >= self.opts.election_ticks:
            self._election_elapsed = 0
            if self.opts.check_quorum and not self._quorum_active():
                self._become_follower(self.term, None)
                return
        if self._heartbeat_elapsed >= self.opts.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            self._read_round_wanted = True
        self._restart_stalled_replication()
        if self.opts.prefer_leader:
            self._hand_over_to_preferred()

    def _reset_election_timer(self) -> None:
        self._election_elapsed = 0
        # §5.2: randomized timeouts make split votes rare.
        self._randomized_timeout = self.opts.election_ticks + self.rng.randrange(self.opts.election_ticks)

    def _quorum_active(self) -> bool:
        """CheckQuorum (thesis §6.2): did a majority talk to us during the last election timeout?"""
        active = [self.id, *(peer for peer, pr in self._progress.items() if pr.recent_active)]
        for pr in self._progress.values():
            pr.recent_active = False
        return self.config.majority().has_quorum(active)

    def _restart_stalled_replication(self) -> None:
        """Messages can be lost. A snapshot that got no answer is sent again; an append stream that
        made no progress for half an election timeout is restarted from the last index known to
        match, instead of waiting for a rejection that will never come."""
        stall = max(2 * self.opts.heartbeat_ticks, self.opts.election_ticks // 2)
        for pr in self._progress.values():
            waited = self._now - pr.waiting_since
            timeout = self.opts.snapshot_timeout_ticks
            snapshot_lost = pr.state is ReplicationState.SNAPSHOT and waited >= timeout
            appends_lost = pr.state is ReplicationState.REPLICATE and bool(pr.inflight) and waited >= stall
            if snapshot_lost or appends_lost:
                pr.become_probe()

    def _hand_over_to_preferred(self) -> None:
        """Leader preference: move leadership to the most preferred voter that is alive and has stayed
        caught up for ``settle_ticks``, so a flapping node cannot make leadership flap."""
        if self._transferee is not None:
            return
        for voter in self.config.voters:
            if voter == self.id:
                return  # nobody alive is preferred over us
            pr = self._progress[voter]
            if self._is_live(pr):
                break
            pr.caught_up_since = None  # time spent away never counts towards settling
        else:
            return
        if not self._is_caught_up(pr):
            pr.caught_up_since = None
            return
        if pr.caught_up_since is None:
            pr.caught_up_since = self._now
        elif self._now - pr.caught_up_since >= self.opts.settle_ticks:
            self.transfer_leadership(voter)

    def _is_caught_up(self, pr: Progress) -> bool:
        # Within one append of our last entry: close enough that a transfer, which pauses proposals,
        # finishes catching it up in a single round trip.
        return (
            pr.state is ReplicationState.REPLICATE
            and self.log.last_index - pr.match <= self.opts.max_entries_per_append
        )

    def _is_live(self, pr: Progress) -> bool:
        return (
            pr.last_contact_tick is not None and self._now - pr.last_contact_tick < self.opts.election_ticks
        )

    # ===================================================================================== elections

    def _start_election(self, *, pre_vote: bool, transfer: bool) -> None:
        if pre_vote:
            self._become_pre_candidate()
            campaign_term = self.term + 1
        else:
            self._become_candidate()
            campaign_term = self.term
        self._votes = {self.id: True}
        if self._tally_votes():
            return
        electorate = self._electorate().voters
        for peer in self.config.members:
            if peer == self.id or peer not in electorate:
                continue
            self._send(
                VoteRequest(
                    term=campaign_term,
                    src=self.id,
                    dst=peer,
                    last_log_index=self.log.last_index,
                    last_log_term=self.log.last_term,
                    pre_vote=pre_vote,
                    transfer=transfer,
                )
            )

    def _tally_votes(self) -> bool:
        """Count the votes; move on when a majority decided. Returns True if the campaign ended."""
        result = self._electorate().vote_result(self._votes)
        if result is VoteResult.WON:
            if self.role is Role.PRE_CANDIDATE:
                self._start_election(pre_vote=False, transfer=False)
            else:
                self._become_leader()
        elif result is VoteResult.LOST:
            self._become_follower(self.term, None)
        return result is not VoteResult.PENDING

    def _handle_vote_request(self, m: VoteRequest) -> None:
        refusal = self._vote_refusal(m)
        grant = refusal is None
        self._decided(m, refusal or VOTE_GRANTED)
        if grant and not m.pre_vote:
            self.vote = m.src
            self._reset_election_timer()  # §5.2: granting a vote resets the election timer
        self._send(
            VoteResponse(
                term=m.term if grant else self.term,
                src=self.id,
                dst=m.src,
                granted=grant,
                pre_vote=m.pre_vote,
            )
        )

    def _electorate(self) -> MajorityConfig:
        """Thesis §4.2.1: only voters elect. A candidate asks the voters of its own configuration and
        counts their votes alone; a learner's grant (it may have been promoted without knowing it yet)
        counts only for a candidate whose configuration lists it as a voter."""
        return self.config.majority()

    def _may_campaign(self) -> bool:
        """Only a voter campaigns (thesis §4.2.1): never a learner, nor a server joining and not yet
        told it was added, nor one whose removal it knows to be committed, nor one still short of
        entries it lost (``vote_floor``).

        A voter that an uncommitted change removes still campaigns (thesis §4.2.2), not counting its
        own vote: until the change commits it may be needed to commit it. A leader that removed itself
        and then lost its majority has the longest log; if it stood aside, the voters it left behind
        might all be refused by one another, and nobody could ever finish the change."""
        if self._recovering():
            return False
        config, index = self.config, self.log.config_index
        if self.id in config.voters:
            return True
        return index > self.commit and self.id in self.log.config_at(index - 1).voters

    def _ignores_vote_request(self, m: VoteRequest) -> bool:
        """Thesis §4.2.3 (removed servers): a vote request, pre-vote or real, from a server that is not
        a voter in our configuration is ignored — its term too — so a removed server cannot disturb the
        cluster, with or without PreVote. A server that missed its own removal lacks the entry that
        removed it, so its log is behind that of everyone who ignores it.

        Unless the candidate's log is at least as up to date as ours: then our configuration may be the
        stale one (an uncommitted change of an old term, about to be cut away), and ignoring a
        legitimate candidate could leave no one able to win. Granting a vote is always safe; the rule
        only keeps out the disruptive. A server that knows no voter at all (joining) answers no one.

        Every other message is taken from anyone its term allows: a server being added hears from the
        leader before it holds the entry that lists it."""
        config = self.config
        if m.src in config.voters:
            return False
        return not config.voters or not self.log.is_up_to_date(m.last_log_index, m.last_log_term)

    def _vote_refusal(self, m: VoteRequest) -> str | None:
        """Why this node will not give ``m``'s candidate its vote; None if it will. A pre-vote is granted
        to a later term with a log at least as up to date, and changes nothing; a vote also needs
        ``_may_vote_for``."""
        if self._recovering():
            return RECOVERING
        if m.pre_vote and m.term <= self.term:
            return STALE_TERM
        if not m.pre_vote and not self._may_vote_for(m.src):
            return ALREADY_VOTED if self.vote not in (None, m.src) else FOLLOWS_LEADER
        if not self._log_is_up_to_date(m.last_log_index, m.last_log_term):
            return LOG_BEHIND
        return None

    def _decided(self, m: VoteRequest, reason: str) -> None:
        """Record how a vote request was answered, for the runtime's reports (Ready.votes)."""
        self._vote_decisions.append(
            VoteDecision(
                candidate=m.src,
                term=m.term,
                pre_vote=m.pre_vote,
                granted=reason == VOTE_GRANTED,
                reason=reason,
                voter_term=self.term,
                voted_for=self.vote,
                leader=self.leader,
                log=(self.log.last_index, self.log.last_term),
                candidate_log=(m.last_log_index, m.last_log_term),
            )
        )

    def _may_vote_for(self, candidate: str) -> bool:
        """§5.2: at most one vote per term, first come first served; none while we follow a leader."""
        return self.vote == candidate or (self.vote is None and self.leader is None)

    def _log_is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """§5.4.1: vote only for a candidate whose log is at least as up to date as ours."""
        return self.log.is_up_to_date(last_index, last_term)

    def _handle_vote_response(self, m: VoteResponse) -> None:
        if m.pre_vote != (self.role is Role.PRE_CANDIDATE):
            return  # a late answer to the other kind of campaign
        self._votes[m.src] = m.granted
        self._tally_votes()

    def _handle_timeout_now(self, m: TimeoutNow) -> None:
        # Thesis §3.10: the leader is handing over to us; campaign at once, without PreVote.
        if self._may_campaign():
            self._start_election(pre_vote=False, transfer=True)

    def _recovering(self) -> bool:
        """Still short of entries this node held before it lost them (see ``vote_floor``)."""
        return self.log.last_index < self._vote_floor

    # ================================================================================== role changes

    def _become_follower(self, term: int, leader: str | None) -> None:
        if term > self.term:
            self.term = term
            self.vote = None
        if self.role is Role.LEADER or leader != self.leader:
            self._fail_pending_reads()
        self._set_role(Role.FOLLOWER, self._step_follower, self._tick_election)
        self.leader = leader
        self._transferee = None
        self._progress, self._departing = {}, []
        self._reset_election_timer()

    def _become_pre_candidate(self) -> None:
        # PreVote (thesis §9.6): ask whether we could win before disturbing anyone's term.
        self._set_role(Role.PRE_CANDIDATE, self._step_candidate, self._tick_election)
        self.leader = None
        self._reset_election_timer()

    def _become_candidate(self) -> None:
        # §5.2: increment the term and vote for ourselves. Both are persisted before the requests
        # leave, because Ready puts hard state on disk before any message.
        self.term += 1
        self.vote = self.id
        self._set_role(Role.CANDIDATE, self._step_candidate, self._tick_election)
        self.leader = None
        self._reset_election_timer()

    def _become_leader(self) -> None:
        self._set_role(Role.LEADER, self._step_leader, self._tick_heartbeat)
        self.leader = self.id
        self._transferee = None
        self._heartbeat_elapsed = 0
        self._election_elapsed = 0
        self._progress = {}
        self._track_members()
        # §5.4.2 / thesis §6.4: a new leader commits a no-op of its own term, which commits every
        # earlier entry and lets it serve ReadIndex.
        self._append_own(b"", EntryKind.NOOP)
        self._read_round_wanted = True
        self._lease_forfeited = False
        self.expire_lease()  # a lease of an earlier term was granted to an earlier leadership

    def _accept_higher_term(self, m: Message) -> bool:
        """§5.1: a message from a later term makes us a follower in it — with two exceptions.
        Returns False when the message must be ignored."""
        if isinstance(m, VoteRequest):
            if self._in_leader_lease() and not m.transfer:
                # Thesis §4.2.3: we heard from a live leader within the minimum election timeout;
                # a node that merely lost touch must not depose it.
                self._decided(m, LEADER_LEASE)
                return False
            if m.pre_vote:
                return True  # a pre-vote never changes our term
        if isinstance(m, VoteResponse) and m.pre_vote and m.granted:
            return True  # its term is the one we asked for, not a newer one
        leader = m.src if isinstance(m, AppendEntries | Heartbeat | InstallSnapshot) else None
        self._become_follower(m.term, leader)
        return True

    def _in_leader_lease(self) -> bool:
        if not self.opts.check_quorum:
            return False
        if self._lease is not None and self._now < self.opts.election_ticks:
            # Just started: it may have answered a lease-holding leader just before it stopped (lease.py).
            return True
        return self.leader is not None and self._election_elapsed < self.opts.election_ticks

    def _answer_stale(self, m: Message) -> None:
        """A message from an earlier term. A deposed leader learns our term from the reply; with
        PreVote it would otherwise never hear of it and could stay cut off forever."""
        if isinstance(m, AppendEntries | Heartbeat):
            self._send(AppendResponse(term=self.term, src=self.id, dst=m.src, success=False))
        elif isinstance(m, VoteRequest):
            self._decided(m, STALE_TERM)
            if m.pre_vote:
                self._send(VoteResponse(term=self.term, src=self.id, dst=m.src, granted=False, pre_vote=True))

    def _set_role(self, role: Role, step: Callable[[Message], None], tick: Callable[[], None]) -> None:
        """A role and the functions that act for it change together."""
        self.role, self._step_role, self._tick_role = role, step, tick

    def _follow(self, leader: str) -> None:
        """The leader of our term spoke to us: follow it and restart the election timer."""
        if self.leader != leader:
            self._become_follower(self.term, leader)
        self._election_elapsed = 0

    # ========================================================================= replication: follower

    def _handle_append(self, m: AppendEntries) -> None:
        self._follow(m.src)
        if not self.log.matches(m.prev_index, m.prev_term):
            self._reject_append(m)
            return
        last_new = self._append_from_leader(m.prev_index, m.entries)
        # §5.3: commit up to the leader's commit, but never past what this message proved we share.
        self._commit_to(min(m.commit, last_new))
        self._send(AppendResponse(term=self.term, src=self.id, dst=m.src, success=True, match_index=last_new))

    def _append_from_leader(self, prev_index: int, entries: tuple[Entry, ...]) -> int:
        """§5.3: drop our suffix from the first entry that conflicts, then append what is new."""
        for i, e in enumerate(entries):
            if e.index <= self.log.snapshot_index:
                continue
            ours = self.log.term_at(e.index)
            if ours == e.term:
                continue
            if ours is not None:
                if e.index <= self.commit:
                    raise AssertionError(f"leader overwrote committed entry {e.index}")  # Log Matching broken
                self.log.truncate_from(e.index)
            self.log.append(entries[i:])
            break
        return prev_index + len(entries)

    def _reject_append(self, m: AppendEntries) -> None:
        """Fast back-off (thesis §5.3 end): tell the leader where our log could diverge."""
        if m.prev_index > self.log.last_index:
            conflict_term, conflict_index = 0, self.log.last_index + 1
        else:
            conflict_term = self.log.term_at(m.prev_index) or 0
            conflict_index = self.log.first_index_of_term(m.prev_index)
        self._send(
            AppendResponse(
                term=self.term,
                src=self.id,
                dst=m.src,
                success=False,
                reject_index=m.prev_index,
                conflict_term=conflict_term,
                conflict_index=conflict_index,
            )
        )

    def _handle_heartbeat(self, m: Heartbeat) -> None:
        self._follow(m.src)
        if m.commit > self.log.last_index:
            # The leader only ever sends what it knows we hold: this node has lost entries (its disk
            # was damaged and it started over). Tell the leader where our log really ends.
            self._send(
                AppendResponse(
                    term=self.term,
                    src=self.id,
                    dst=m.src,
                    success=False,
                    reject_index=m.commit,
                    conflict_index=self.log.last_index + 1,
                )
            )
        # The leader sends min(our match, its commit), so everything up to it is in our log.
        self._commit_to(min(m.commit, self.log.last_index))
        if not m.is_commit_notice:
            self._send(HeartbeatResponse(term=self.term, src=self.id, dst=m.src, round=m.round))

    def _handle_snapshot(self, m: InstallSnapshot) -> None:
        self._follow(m.src)
        snap = m.snapshot
        if snap is None:
            return
        meta = snap.meta
        if meta.index <= self.commit:
            match = self.commit  # we already have all of it
        elif self.log.term_at(meta.index) == meta.term:
            # We hold the snapshot's last entry: keep the log after it and just commit
            # (docs/guarantees.md#snapshots-and-logs-out-of-step).
            self._commit_to(meta.index)
            match = meta.index
        else:
            # Thesis §5: the snapshot replaces our whole log (and is persisted through Ready).
            self.log.restore(snap)
            self.snapshot = snap
            self.commit = meta.index
            self._applied = meta.index
            match = meta.index
        self._send(AppendResponse(term=self.term, src=self.id, dst=m.src, success=True, match_index=match))

    def _commit_to(self, index: int) -> None:
        if index > self.commit:
            self.commit = index

    # =========================================================================== replication: leader

    def _append_own(self, data: bytes, kind: EntryKind) -> Entry:
        entry = Entry(term=self.term, index=self.log.last_index + 1, data=data, kind=kind)
        self.log.append((entry,))
        if kind is EntryKind.CONFIG:
            self._track_members()  # thesis §4.1: the new configuration is in effect from now on
        self._maybe_commit()
        return entry

    def _handle_append_response(self, m: AppendResponse) -> None:
        pr = self._progress.get(m.src)
        if pr is None:
            return  # from a server no longer tracked: removed, and the removal committed
        self._heard_from(pr)
        if not m.success:
            if m.conflict_term == 0 and 0 < m.conflict_index <= pr.match:
                pr.forget_match(m.conflict_index - 1)  # its log is shorter than it once acknowledged
            else:
                pr.reject(m.reject_index, self._next_after_rejection(m))
            return
        if pr.acknowledge(m.match_index):
            pr.waiting_since = self._now
        if pr.state is not ReplicationState.REPLICATE:
            pr.become_replicate()
        self._maybe_commit()
        if self.role is not Role.LEADER:
            return  # the commit removed us from the cluster (thesis §4.2.2)
        if m.src == self._transferee and pr.match == self.log.last_index:
            self._send_timeout_now(m.src)

    def _next_after_rejection(self, m: AppendResponse) -> int:
        """Fast back-off, leader side: skip the follower's whole conflicting term at once."""
        if m.conflict_term:
            ours = self.log.last_index_of_term(m.conflict_term)
            if ours is not None:
                return ours + 1
        return m.conflict_index

    def _handle_heartbeat_response(self, m: HeartbeatResponse) -> None:
        pr = self._progress.get(m.src)
        if pr is None:
            return  # from a server no longer tracked
        self._heard_from(pr)
        pr.acked_round = max(pr.acked_round, m.round)
        if pr.state is ReplicationState.PROBE:
            pr.probe_sent = False  # the probe may have been lost; the heartbeat paces a new one
        self._renew_lease()
        self._release_confirmed_reads()

    def _heard_from(self, pr: Progress) -> None:
        pr.recent_active = True
        pr.last_contact_tick = self._now

    def _maybe_commit(self) -> bool:
        """§5.3/§5.4.2: the highest index stored on a majority is committed — if it is from our term."""
        # Our own log counts only as far as it is durable: the leader writes it while replicating it.
        # A leader the configuration no longer lists goes on committing without counting itself
        # (thesis §4.2.2): quorum.py ignores every acknowledgement but the voters'.
        acked = {peer: pr.match for peer, pr in self._progress.items()}
        acked[self.id] = self.log.durable_index
        candidate = self.config.majority().committed_index(acked)
        if candidate <= self.commit or not self._may_commit_by_count(candidate):
            return False
        previous, self.commit = self.commit, candidate
        if self._reads_awaiting_term_commit:
            waiting, self._reads_awaiting_term_commit = self._reads_awaiting_term_commit, []
            for read in waiting:
                self._leader_read(read)
        if previous < self.log.config_index <= candidate:
            self._config_change_committed()
        return True

    def _may_commit_by_count(self, index: int) -> bool:
        """Raft §5.4.2 (Figure 8): never commit an entry of an earlier term by counting replicas."""
        return self.log.term_at(index) == self.term

    def _flush_sends(self) -> None:
        """Batch every entry ready for each follower into as few appends as flow control allows, and
        start a heartbeat round if one is due. Called when the caller collects messages."""
        if self.role is not Role.LEADER:
            return
        if self._read_round_wanted:
            self._read_round_wanted = False
            self._broadcast_heartbeat()
        last = self.log.last_index
        for peer, pr in self._progress.items():
            while not pr.is_paused() and (pr.next <= last or pr.state is ReplicationState.PROBE):
                if not self._send_append(peer, pr):
                    break
            if min(pr.match, self.commit) > pr.commit_sent:
                # The follower holds entries it does not yet know are committed, and no append is
                # going to tell it: say so now rather than at the next heartbeat, so a write shows on
                # every node within a round trip of being acknowledged.
                self._send_heartbeat(peer, pr, 0)
        if self._departing:
            self._let_go_of_departed()

    def _send_append(self, peer: str, pr: Progress) -> bool:
        """Send one append (or the snapshot, if the entries it needs are compacted). Returns False
        when nothing more can be sent now."""
        prev = pr.next - 1
        try:
            prev_term = self.log.term_at(prev)
            entries = self._entries_for_append(pr.next)
        except CompactedError:
            self._send_snapshot(peer, pr)
            return False
        self._send(
            AppendEntries(
                term=self.term,
                src=self.id,
                dst=peer,
                prev_index=prev,
                prev_term=prev_term or 0,
                entries=tuple(entries),
                commit=self.commit,
            )
        )
        last = entries[-1].index if entries else prev
        if not pr.inflight:
            pr.waiting_since = self._now
        pr.sent_entries(last)
        # The follower commits up to min(our commit, the last entry this append proves it holds).
        pr.commit_sent = max(pr.commit_sent, min(self.commit, last))
        return bool(entries)

    def _entries_for_append(self, lo: int) -> list[Entry]:
        entries = self.log.entries(lo, max_count=self.opts.max_entries_per_append)
        size = 0
        for n, e in enumerate(entries):
            size += len(e.data)
            if size > self.opts.max_bytes_per_append and n > 0:
                return entries[:n]
        return entries

    def _send_snapshot(self, peer: str, pr: Progress) -> None:
        if self.snapshot is None:
            raise AssertionError("log compacted without a snapshot")
        self._send(InstallSnapshot(term=self.term, src=self.id, dst=peer, snapshot=self.snapshot))
        pr.become_snapshot(self.snapshot.meta.index)
        pr.waiting_since = self._now

    def _broadcast_heartbeat(self) -> None:
        self._round += 1
        if self._lease is not None:
            self._lease.round_sent(self._round, self._now)
        for peer, pr in self._progress.items():
            self._send_heartbeat(peer, pr, self._round)
        self._release_confirmed_reads()

    def _send_heartbeat(self, peer: str, pr: Progress, round_: int) -> None:
        # Never more than the follower is known to hold: it may not have the rest of our log yet.
        commit = min(pr.match, self.commit)
        self._send(Heartbeat(term=self.term, src=self.id, dst=peer, commit=commit, round=round_))
        pr.commit_sent = max(pr.commit_sent, commit)

    # ============================================================================== linearizable reads

    def _leader_read(self, read: _PendingRead) -> None:
        """ReadIndex (thesis §6.4): once an entry of our term is committed, the commit index is at
        least every acknowledged write; a heartbeat round answered by a majority proves we were still
        leader when we recorded it."""
        if self.log.term_at(self.commit) != self.term:
            self._reads_awaiting_term_commit.append(read)
            return
        read.index = self.commit
        if self._lease_holds():
            self._answer_read(read, ok=True)
            return
        read.round = self._round + 1
        self._reads_awaiting_quorum.append(read)
        self._read_round_wanted = True
        self._release_confirmed_reads()

    def _release_confirmed_reads(self) -> None:
        """ReadIndex (thesis §6.4): answer, in order, every read whose heartbeat round a majority has
        answered. A round that has not gone out yet is answered by nobody but us."""
        if not self._reads_awaiting_quorum:
            return
        confirmed = self._confirmed_round()
        while self._reads_awaiting_quorum and self._reads_awaiting_quorum[0].round <= confirmed:
            self._answer_read(self._reads_awaiting_quorum.pop(0), ok=True)

    def _confirmed_round(self) -> int:
        """The latest heartbeat round a majority has answered (ours counts as answered by us)."""
        rounds = {peer: pr.acked_round for peer, pr in self._progress.items()}
        rounds[self.id] = self._round
        return self.config.majority().confirmed_round(rounds)

    def _lease_holds(self) -> bool:
        """Thesis §6.4.1: no other leader can exist yet, so the commit index is as good as one a
        heartbeat round would confirm (lease.py). Never once a TimeoutNow has gone out in this term:
        its target may win at once, whatever the voters' leases."""
        return (
            self._lease is not None
            and not self._lease_forfeited
            and self._lease.holds(self._now, self.config)
        )

    def _lease_ticks(self, drift_ticks: int) -> int:
        """Thesis §6.4.1: a lease must end before any voter that answered its round would vote again."""
        return lease_ticks(self.opts.election_ticks, drift_ticks)

    def _renew_lease(self) -> None:
        if self._lease is not None:
            self._lease.round_confirmed(self._confirmed_round(), self.config)

    def _send_timeout_now(self, target: str) -> None:
        """Thesis §3.10: ``target`` may start an election at once; this leader's lease ends for the rest
        of its term."""
        self._lease_forfeited = True
        self._send(TimeoutNow(term=self.term, src=self.id, dst=target))

    def _answer_read(self, read: _PendingRead, *, ok: bool) -> None:
        if read.requester == self.id:
            if ok:
                self._read_states.append(ReadState(read.ctx, read.index))
            else:
                self._failed_reads.append(read.ctx)
        else:
            self._send(
                ReadIndexResponse(
                    term=self.term, src=self.id, dst=read.requester, ctx=read.ctx, index=read.index, ok=ok
                )
            )

    def _refuse_read_index(self, m: ReadIndexRequest) -> None:
        """Only the leader serves ReadIndex (thesis §6.4): the read fails, and its caller retries."""
        self._send(ReadIndexResponse(term=self.term, src=self.id, dst=m.src, ctx=m.ctx, ok=False))

    def _handle_read_index_response(self, m: ReadIndexResponse) -> None:
        if m.ctx not in self._remote_reads:
            return
        self._remote_reads.discard(m.ctx)
        if m.ok:
            self._read_states.append(ReadState(m.ctx, m.index))
        else:
            self._failed_reads.append(m.ctx)

    def _fail_pending_reads(self) -> None:
        for read in self._reads_awaiting_term_commit + self._reads_awaiting_quorum:
            self._answer_read(read, ok=False)
        self._reads_awaiting_term_commit, self._reads_awaiting_quorum = [], []
        self._failed_reads.extend(sorted(self._remote_reads))
        self._remote_reads.clear()

    # =================================================================== membership (thesis §4)

    def _config_in_effect(self) -> ClusterConfig:
        """Thesis §4.1: a server uses the latest configuration in its log, whether or not it is
        committed. Waiting for the commit would let a leader allow the next change before a majority of
        the old configuration had taken up this one."""
        return self.log.config

    def _one_change_at_a_time(self) -> bool:
        """Thesis §4.1: a leader proposes a change only once the last configuration in its log is
        committed, so at most one is in flight and consecutive configurations are one voter apart."""
        return self.log.config_index <= self.commit

    def _committed_in_own_term(self) -> bool:
        """Ongaro's 2015 correction to thesis §4.1: a leader changes the configuration only once it has
        committed an entry of its own term. Before that, an uncommitted configuration from an earlier
        term may still sit in other logs, and it and this leader's change can have disjoint majorities."""
        return self.log.term_at(self.commit) == self.term

    def _track_members(self) -> None:
        """The leader follows the replication of every voter and learner of its configuration (thesis
        §4.2.1), with a fresh Progress for one that joins. One that the latest change removed stays
        tracked until the change is committed — it may be needed to commit it — and then until it has
        been told so (``_let_go_of_departed``): until it knows, it may campaign (``_may_campaign``)."""
        config, index = self.config, self.log.config_index
        wanted = list(config.members)
        previous = self.log.config_at(index - 1).members
        if index > self.commit:
            wanted += previous
        else:
            wanted += [p for p in previous if p in self._progress and self._progress[p].commit_sent < index]
        members = dict.fromkeys(m for m in wanted if m != self.id)  # in configuration order
        for gone in [peer for peer in self._progress if peer not in members]:
            del self._progress[gone]
        for member in members:
            if member not in self._progress:
                self._progress[member] = Progress(self.log.last_index + 1, self.opts.max_inflight)
        self._departing = [peer for peer in members if peer not in config.members]

    def _let_go_of_departed(self) -> None:
        """Stop tracking a member the committed change removed, once it has been told of the commit."""
        index = self.log.config_index
        if index > self.commit:
            return
        for peer in [p for p in self._departing if self._progress[p].commit_sent >= index]:
            del self._progress[peer]
            self._departing.remove(peer)

    def _config_change_committed(self) -> None:
        """The latest configuration change is committed: stop tracking whom it removed, and if it
        removed this leader, step down (thesis §4.2.2)."""
        self._track_members()
        if self.id not in self.config.voters:
            self._leave_after_removal()

    def _leave_after_removal(self) -> None:
        """Thesis §4.2.2: a leader removed by a change leads until the change is committed, then steps
        down. It hands over to a voter that holds its whole log on the way out, so the cluster does not
        wait an election timeout for the next leader; as a non-voter it never campaigns again."""
        last = self.log.last_index
        successor = next((v for v in self.config.voters if self._progress[v].match == last), None)
        if successor is not None:
            self._send_timeout_now(successor)
        self._become_follower(self.term, None)

    # ========================================================================================= helpers

    def _refuse_proposal(self) -> Refused | None:
        """Why this node cannot take a proposal now, or None if it can."""
        if self.role is not Role.LEADER:
            return Refused(NOT_LEADER if self.leader else NO_LEADER, self.leader)
        if self._transferee is not None:
            # Thesis §3.10: stop taking proposals during a hand-over, or the target can never catch up.
            return Refused(TRANSFERRING, self.id)
        return None

    def _send(self, m: Message) -> None:
        self._msgs.append(m)

    def _hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.commit)

    def _soft_state(self) -> SoftState:
        return SoftState(role=self.role, leader=self.leader, term=self.term)

    def _committed_to_apply(self) -> list[Entry]:
        """Entries committed but not yet handed out for applying (§5.3: apply only committed ones)."""
        if self._applied >= self.commit:
            return []
        return self.log.entries(self._applied + 1, self.commit)
