// How the page reads what the server says besides the body it asked for. Pure: no DOM, no fetch, so
// that Node can test it (tests/js).

export const APPLIED_HEADER = 'X-Todonode-Applied-Index';

// The log index an answer reflects (X-Todonode-Applied-Index); 0 when the answer does not say.
export function appliedIndex(headers) {
  return Number(headers.get(APPLIED_HEADER)) || 0;
}

// The quorum in a status body (GET /cluster/status, GET /status, the stream's hello event):
// {voters, needed, reachable}, with `reachable` counting the answering node itself. null when the body
// does not carry it: the page then shows the quorum as unknown. It never works these numbers out from
// the member list: which members vote and how many make a quorum is the server's to say.
export function quorumOf(status) {
  const quorum = status?.quorum;
  if (!quorum) return null;
  const { voters, needed, reachable } = quorum;
  return [voters, needed, reachable].every(Number.isInteger) ? { voters, needed, reachable } : null;
}

// The first of `statuses` that carries a quorum, or null.
export function firstQuorum(...statuses) {
  for (const status of statuses) {
    const quorum = quorumOf(status);
    if (quorum) return quorum;
  }
  return null;
}

export const lacksQuorum = (quorum) => quorum.reachable < quorum.needed;
