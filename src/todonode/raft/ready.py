"""What the core hands back to the node after ticks, messages and proposals.

The contract (the same as etcd's ``Ready``): take one ``Ready``, then, in this order,

1. make durable — ``snapshot`` (if any; it replaces the whole stored log), then ``entries`` and
   ``hard_state`` — and, if ``must_sync``, fsync. An entry at index *i* replaces every stored entry at
   *i* and above. Nothing below may happen before this step is complete: a vote, a term or an
   acknowledged entry that leaves the node before it is on disk can be forgotten by a crash, and that
   is how two leaders share a term or a committed write is lost.
2. send ``messages`` (in any order, to any peer, concurrently).

   One exception: when ``send_before_persisting`` is set, the messages may leave before (or while)
   step 1 runs. The core sets it only for a leader whose term and vote are already durable: its
   appends and heartbeats promise nothing about its own disk, and it counts its own log towards a
   majority only once ``advance`` reports it durable (thesis §10.2.1). The leader's fsync and the
   followers' then run in parallel.
3. restore the state machine from ``snapshot`` if there is one, then apply ``committed`` in order;
   a ``ReadState`` may be served once the applied index reaches its ``index``.
4. call ``advance(ready)``.

Steps 2 and 3 may overlap. Until ``advance`` the core keeps accepting ticks, messages and proposals,
but will not produce another ``Ready``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Entry, HardState, Message, Role, Snapshot


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile facts worth telling the user about; never persisted."""

    role: Role
    leader: str | None
    term: int


@dataclass(frozen=True, slots=True)
class ReadState:
    """A linearizable read identified by ``ctx`` may be served once ``index`` is applied."""

    ctx: str
    index: int


# Why a vote was given or refused (VoteDecision.reason). Each names the rule in core.py that decided it.
VOTE_GRANTED = "granted"
LOG_BEHIND = "log_behind"  # §5.4.1: the candidate's log is less up to date than the voter's
ALREADY_VOTED = "already_voted"  # §5.2: one vote per term, and it went to another candidate
FOLLOWS_LEADER = "follows_leader"  # §5.2: the voter already follows a leader of this term
LEADER_LEASE = "leader_lease"  # thesis §4.2.3: heard from a live leader within an election timeout
STALE_TERM = "stale_term"  # §5.1: the voter is already in the asked-for term or a later one
RECOVERING = "recovering"  # the voter lost log entries and takes no part in elections (vote_floor)
# Thesis §4.2.3: the candidate is not a voter in this server's configuration and its log is not ahead
# (a removed server, a stranger), or this server knows no voter at all; no answer is sent. Also why
# transfer_leadership refuses a target: a learner or a stranger could never win the election.
NOT_A_VOTER = "not_a_voter"


@dataclass(frozen=True, slots=True)
class VoteDecision:
    """How this node answered a request for its (pre-)vote, and why: facts for the runtime to report
    (its log and the dashboard tell elections with them). Nothing to persist or send: a granted vote
    is already in ``hard_state`` and the answer in ``messages``. A request refused under the leader
    lease gets no answer at all; it is reported all the same."""

    candidate: str
    term: int  # the term the candidate asked for
    pre_vote: bool
    granted: bool
    reason: str  # VOTE_GRANTED or why not: LOG_BEHIND, ALREADY_VOTED, ...
    voter_term: int  # the voter's own term when it decided
    voted_for: str | None  # whom the voter had voted for in that term
    leader: str | None  # the leader the voter followed
    log: tuple[int, int]  # the voter's last log index and term
    candidate_log: tuple[int, int]  # the candidate's, as it said in its request


@dataclass(frozen=True, slots=True)
class Ready:
    hard_state: HardState | None = None
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None
    messages: tuple[Message, ...] = ()
    committed: tuple[Entry, ...] = ()
    read_states: tuple[ReadState, ...] = ()
    # Reads that cannot complete (the leader changed or refused): the caller should retry them.
    failed_reads: tuple[str, ...] = ()
    soft_state: SoftState | None = None
    votes: tuple[VoteDecision, ...] = ()  # requests for this node's vote decided since the last Ready
    # Entries, a snapshot, or a new term or vote: these must be fsync'd. A Ready whose only change is
    # the commit index need not be: a lost commit index is learnt again from the leader.
    must_sync: bool = False
    send_before_persisting: bool = False  # see the module docstring, step 2


@dataclass(frozen=True, slots=True)
class Accepted:
    """A proposal entered the leader's log at ``index`` in ``term``; it is not yet committed."""

    index: int
    term: int


NOT_LEADER = "not_leader"
NO_LEADER = "no_leader"
TRANSFERRING = "transferring"

# Why a configuration change (RaftNode.propose_config_change, see membership.py) was refused.
TERM_NOT_COMMITTED = "term_not_committed"  # this leader has not committed an entry of its term yet
CHANGE_IN_FLIGHT = "change_in_flight"  # the last configuration in the log is not committed yet
NOT_A_MEMBER = "not_a_member"  # promote or remove someone who is neither a voter nor a learner
ALREADY_A_MEMBER = "already_a_member"  # add, as a learner, someone who is already a member
ALREADY_A_VOTER = "already_a_voter"  # promote a voter
LAST_VOTER = "last_voter"  # remove the only voter: nobody would be left to elect a leader


@dataclass(frozen=True, slots=True)
class Refused:
    """The core will not take this request. ``leader`` is whom to ask instead, when known."""

    reason: str  # one of the reasons above
    leader: str | None = None
