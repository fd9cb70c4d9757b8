// What the page shows of the cluster's membership, from GET /cluster/status: which members are
// learners, how close each learner is to its promotion, and what changed between two pictures of the
// cluster (told on the timeline). The numbers — how far behind, the promotion threshold — are the
// server's; nothing here counts a majority. Pure: no DOM, no network.

// A learner's way to promotion: `behind` entries, promoted at `threshold` or fewer (cluster.promote_lag)
// once it answers (`waiting` until then: the leader promotes only a learner it reaches); null for a
// voter, or while the lag is not known (only the leader knows it).
export function learnerProgress(row, promoteLag) {
  if (row?.membership !== 'learner' || row.lag == null || promoteLag == null) return null;
  const waiting = row.reachable === false;
  return { behind: row.lag, threshold: promoteLag, waiting, ready: !waiting && row.lag <= promoteLag };
}

// The membership changes from one leader's view of the cluster to the next: who joined (as a learner,
// or as a voter), who was promoted, who left. Partial views (a follower that could not reach the
// leader) are not compared: they may miss a change, and would tell it twice.
export function membershipChanges(before, after) {
  if (before?.view !== 'leader' || after?.view !== 'leader') return [];
  const roles = (cluster) => new Map((cluster.nodes ?? []).map((row) => [row.id, row.membership ?? 'voter']));
  const was = roles(before);
  const now = roles(after);
  const changes = [];
  for (const [node, role] of now) {
    if (!was.has(node)) changes.push({ kind: role === 'learner' ? 'joined' : 'joinedVoter', node });
    else if (was.get(node) === 'learner' && role === 'voter') changes.push({ kind: 'promoted', node });
  }
  for (const node of was.keys()) if (!now.has(node)) changes.push({ kind: 'removed', node });
  return changes;
}

// The request that makes a membership change, for an administrator's page: the method, the path and the
// body. `url` is where the new node listens; `id` names the member to remove.
export function changeRequest(action, { url, id } = {}) {
  if (action === 'add') return { method: 'POST', path: '/cluster/members', body: { url: url.trim().replace(/\/+$/, '') } };
  if (action === 'remove') return { method: 'DELETE', path: `/cluster/members/${encodeURIComponent(id)}`, body: null };
  throw new Error(`no membership action ${action}`);
}
