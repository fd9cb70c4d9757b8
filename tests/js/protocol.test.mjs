// static/js/protocol.js: what the page reads from the server's answers besides their bodies' data.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { appliedIndex, firstQuorum, lacksQuorum, quorumOf } from '../../static/js/protocol.js';

test('the applied index is read from its header, 0 when absent or not a number', () => {
  assert.equal(appliedIndex(new Headers({ 'X-Todonode-Applied-Index': '42' })), 42);
  assert.equal(appliedIndex(new Headers()), 0);
  assert.equal(appliedIndex(new Headers({ 'X-Todonode-Applied-Index': 'soon' })), 0);
});

test('the quorum is taken as the server reports it', () => {
  const status = { term: 3, nodes: [], quorum: { voters: 5, needed: 3, reachable: 4 } };
  assert.deepEqual(quorumOf(status), { voters: 5, needed: 3, reachable: 4 });
});

test('the quorum is never worked out from the member list', () => {
  const rows = [{ id: 'a', reachable: true }, { id: 'b', reachable: true }, { id: 'c', reachable: false }];
  assert.equal(quorumOf({ nodes: rows }), null);
});

test('a quorum with a number missing or malformed is unknown, not guessed', () => {
  assert.equal(quorumOf(null), null);
  assert.equal(quorumOf({ quorum: null }), null);
  assert.equal(quorumOf({ quorum: { voters: 4, needed: 3 } }), null);
  assert.equal(quorumOf({ quorum: { voters: 4, needed: '3', reachable: 2 } }), null);
  assert.equal(quorumOf({ quorum: { voters: 4, needed: 2.5, reachable: 2 } }), null);
});

test('the first status that carries a quorum is the one used', () => {
  const cluster = { nodes: [] };
  const own = { node_id: 'node4000', quorum: { voters: 4, needed: 3, reachable: 2 } };
  assert.deepEqual(firstQuorum(cluster, own), { voters: 4, needed: 3, reachable: 2 });
  assert.deepEqual(firstQuorum({ quorum: { voters: 3, needed: 2, reachable: 3 } }, own), { voters: 3, needed: 2, reachable: 3 });
  assert.equal(firstQuorum(cluster, undefined, null), null);
});

test('a quorum is lacking when fewer voters are reachable than needed', () => {
  assert.equal(lacksQuorum({ voters: 4, needed: 3, reachable: 2 }), true);
  assert.equal(lacksQuorum({ voters: 4, needed: 3, reachable: 3 }), false);
  assert.equal(lacksQuorum({ voters: 1, needed: 1, reachable: 1 }), false);
});
