// static/js/auth.js: the token is asked for on 401, kept for the tab, sent on every request.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Credentials } from '../../static/js/auth.js';

class Storage {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.get(key) ?? null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
}

const answering = (...answers) => {
  const asked = [];
  const ask = async (wrong) => {
    asked.push(wrong);
    return answers.shift() ?? null;
  };
  return { ask, asked };
};

test('without a token nothing is added to a request', () => {
  const credentials = new Credentials({ storage: new Storage(), ask: async () => null });
  assert.deepEqual(credentials.headers({ 'Idempotency-Key': 'k' }), { 'Idempotency-Key': 'k' });
});

test('a 401 asks for a token, keeps it in the storage given and sends it from then on', async () => {
  const storage = new Storage();
  const { ask, asked } = answering(' s3cret-token ');
  const credentials = new Credentials({ storage, ask });

  assert.equal(await credentials.refused(undefined), true);

  assert.deepEqual(asked, [false]);
  assert.equal(storage.getItem('todonode.token'), 's3cret-token');
  assert.deepEqual(credentials.headers(), { Authorization: 'Bearer s3cret-token' });
});

test('requests refused at the same moment share one question', async () => {
  const { ask, asked } = answering('t');
  const credentials = new Credentials({ storage: new Storage(), ask });

  const answers = await Promise.all([credentials.refused(undefined), credentials.refused(undefined), credentials.refused(undefined)]);

  assert.deepEqual(answers, [true, true, true]);
  assert.equal(asked.length, 1);
});

test('a request refused with an older token than the one now kept is simply sent again', async () => {
  const { ask, asked } = answering();
  const storage = new Storage();
  storage.setItem('todonode.token', 'new');
  const credentials = new Credentials({ storage, ask });

  assert.equal(await credentials.refused('Bearer old'), true);
  assert.deepEqual(asked, []);
});

test('a refused token is asked for again, saying it was wrong', async () => {
  const storage = new Storage();
  storage.setItem('todonode.token', 'wrong');
  const { ask, asked } = answering('right');
  const credentials = new Credentials({ storage, ask });

  assert.equal(await credentials.refused('Bearer wrong'), true);
  assert.deepEqual(asked, [true]);
  assert.equal(credentials.token(), 'right');
});

test('once the user declines, the page asks no more and forgets the refused token', async () => {
  const storage = new Storage();
  storage.setItem('todonode.token', 'wrong');
  const { ask, asked } = answering(null, 'never asked for');
  const credentials = new Credentials({ storage, ask });

  assert.equal(await credentials.refused('Bearer wrong'), false);
  assert.equal(await credentials.refused(undefined), false);
  assert.equal(asked.length, 1);
  assert.equal(credentials.token(), null);
});

test('with storage turned off the token lives as long as the page', async () => {
  const broken = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() {} };
  const credentials = new Credentials({ storage: broken, ask: async () => 'kept' });

  assert.equal(await credentials.refused(undefined), true);
  assert.deepEqual(credentials.headers(), { Authorization: 'Bearer kept' });
});
