// Whether the page takes writes. Pure, so that Node can test it (tests/js).
//
// Writes need a quorum of the voters reachable, as the server reports it (protocol.js). One short
// view is not enough to lock the page (a heartbeat late under load can make a peer look gone for a
// moment): read-only needs the shortage to last SHORT_FOR_MS, or a no_quorum answer to a write. A
// quorum seen once, or a write newly accepted, is enough to unlock. A status that does not carry the
// quorum says nothing either way.

import { lacksQuorum } from './protocol.js';

export const SHORT_FOR_MS = 1500;

export class ReadOnlyGate {
  constructor() {
    this.reason = null; // why writes are paused: {reachable, needed, voters} or {message}; null if they are not
    this.shortSince = null; // since when the status polls have seen too few nodes for a quorum
  }

  get readOnly() {
    return this.reason !== null;
  }

  // A status poll saw `quorum` (protocol.quorumOf: null when the status did not carry it) at `now`
  // (ms). Each of these methods answers true when the page became read-only or writable.
  observe(quorum, now) {
    if (!quorum) return false;
    if (!lacksQuorum(quorum)) return this.writable();
    this.shortSince ??= now;
    return now - this.shortSince >= SHORT_FOR_MS ? this.set(quorum) : false;
  }

  // A write was refused for want of a quorum: `body` is the no_quorum answer (it says how many voters
  // the leader reached and how many it needed), `quorum` the last one seen (for the number of voters).
  refused(body, quorum) {
    const { reachable, needed } = body ?? {};
    const voters = quorum?.voters;
    const known = [reachable, needed, voters].every(Number.isInteger);
    return this.set(known ? { reachable, needed, voters } : { message: body?.message });
  }

  // A write was answered (`replayed`: with the answer kept from an earlier attempt). A fresh answer
  // shows the cluster has a quorum now, whatever the last status said; a replayed one shows nothing.
  written({ replayed }) {
    return replayed ? false : this.writable();
  }

  writable() {
    this.shortSince = null;
    return this.set(null);
  }

  set(reason) {
    const was = this.readOnly;
    this.reason = reason;
    return was !== this.readOnly;
  }
}
