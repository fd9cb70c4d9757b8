// Whether the page takes writes. Pure, so that Node can test it (tests/js).
//
// Writes need a quorum of the members reachable. One short view is not enough to lock the page (a
// heartbeat late under load can make a peer look gone for a moment): read-only needs the shortage to
// last SHORT_FOR_MS, or a no_quorum answer to a write. Quorum seen once is enough to unlock.

export const SHORT_FOR_MS = 1500;

export class ReadOnlyGate {
  constructor() {
    this.reason = null; // why writes are paused: {up, total, need}, or {message}; null while they are not
    this.shortSince = null; // since when the status polls have seen too few nodes for a quorum
  }

  get readOnly() {
    return this.reason !== null;
  }

  // A status poll saw `quorum` ({up, total, need}, or null while unknown) at `now` (ms).
  // Each of these methods answers true when the page became read-only or writable.
  observe(quorum, now) {
    const short = Boolean(quorum && quorum.up < quorum.need);
    if (!short) {
      this.shortSince = null;
      return this.set(null);
    }
    this.shortSince ??= now;
    return now - this.shortSince >= SHORT_FOR_MS ? this.set(quorum) : false;
  }

  // A write was refused for want of a quorum: `body` is the no_quorum answer, `quorum` the last seen.
  refused(body, quorum) {
    const up = body?.reachable;
    const need = body?.needed;
    const total = quorum?.total;
    return this.set(up != null && need != null && total ? { up, need, total } : { message: body?.message });
  }

  set(reason) {
    const was = this.readOnly;
    this.reason = reason;
    return was !== this.readOnly;
  }
}
