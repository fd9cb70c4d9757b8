// static/js/task-file.js: an export file read line by line against the node's rules, every wrong line
// named by number, and the tasks cut into requests within both limits.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chunksOf, importRules, parseTaskFile } from '../../static/js/task-file.js';

// A node's description, cut down to what import reads; the patterns are simpler than a node's own.
const openapi = {
  info: { 'x-todonode-limits': { max_title_chars: 20, max_batch: 3, max_body_bytes: 400 } },
  components: {
    schemas: {
      ImportedTask: {
        properties: {
          id: { pattern: '^[0-9a-f]{4}$' },
          title: { pattern: '^\\s*[^\\s\\x00-\\x1f](?:[^\\x00-\\x1f]{0,18}[^\\s\\x00-\\x1f])?\\s*$' },
          created_at: { pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
          updated_at: { pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
          version: { maximum: 1000 },
        },
      },
    },
  },
};
const rules = importRules(openapi);
const at = '2026-12-01T15:08:26.002Z';
const task = (id, fields = {}) => ({ id, title: `task ${id}`, completed: false, created_at: at, updated_at: at, version: 1, ...fields });
const lines = (...values) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n') + '\n';

test('the rules are the node’s: its patterns and its limits', () => {
  assert.equal(rules.maxBatch, 3);
  assert.equal(rules.maxBodyBytes, 400);
  assert.equal(rules.maxVersion, 1000);
  assert.ok(rules.id.test('0a1b') && !rules.id.test('0A1B'));
});

test('a node that does not describe import is said to be older', () => {
  assert.throws(() => importRules({ info: {}, components: { schemas: {} } }), /older release/);
});

test('every line of an export becomes a task, in order, without its seq', () => {
  const text = lines({ ...task('000a'), seq: 4 }, task('000b', { completed: true, version: 7 }));
  const { tasks, problems } = parseTaskFile(text, rules);
  assert.deepEqual(problems, []);
  assert.deepEqual(tasks, [task('000a'), task('000b', { completed: true, version: 7 })]);
});

test('lines ending in CRLF and a last line without a newline are read alike', () => {
  const text = `${JSON.stringify(task('000a'))}\r\n${JSON.stringify(task('000b'))}`;
  assert.deepEqual(parseTaskFile(text, rules).tasks, [task('000a'), task('000b')]);
});

test('every wrong line is named by its number and what is wrong with it', () => {
  const text = lines(
    task('000a'),
    '{"id": "000b", "title": "cut',
    '',
    '[1, 2]',
    { ...task('000c'), owner: 'me' },
    { id: '000d', title: 't', completed: false, created_at: at },
    task('ZZZZ'),
    task('000e', { title: 'two\nlines' }),
    task('000f', { completed: 'yes' }),
    task('0010', { created_at: '2026-12-01' }),
    task('0011', { version: 0 }),
    task('0012', { version: 2.5 }),
    task('0013', { seq: -1 }),
    task('0014', { version: 3.0 }),
  );
  const { tasks, problems } = parseTaskFile(text, rules);
  assert.deepEqual(problems, [
    { line: 2, problem: 'notJson' },
    { line: 3, problem: 'notJson' },
    { line: 4, problem: 'notObject' },
    { line: 5, problem: 'unknownField', field: 'owner' },
    { line: 6, problem: 'missingField', field: 'updated_at' },
    { line: 7, problem: 'badField', field: 'id' },
    { line: 8, problem: 'badField', field: 'title' },
    { line: 9, problem: 'badField', field: 'completed' },
    { line: 10, problem: 'badField', field: 'created_at' },
    { line: 11, problem: 'badField', field: 'version' },
    { line: 12, problem: 'badField', field: 'version' },
    { line: 13, problem: 'badField', field: 'seq' },
  ]);
  assert.deepEqual(tasks.map((t) => t.id), ['000a', '0014']);
});

test('titles are checked by code point, as the node counts them', () => {
  const emoji = '😀'.repeat(20); // 40 UTF-16 units, 20 code points: the limit
  assert.deepEqual(parseTaskFile(lines(task('000a', { title: emoji })), rules).problems, []);
  const over = parseTaskFile(lines(task('000a', { title: `${emoji}😀` })), rules).problems;
  assert.deepEqual(over, [{ line: 1, problem: 'badField', field: 'title' }]);
});

test('chunks keep the order and stay within the batch size', () => {
  const tasks = ['0001', '0002', '0003', '0004', '0005'].map((id) => task(id, { title: 'x' }));
  const chunks = chunksOf(tasks, { maxBatch: 2, maxBodyBytes: 1_000_000 });
  assert.deepEqual(chunks.map((c) => c.map((t) => t.id)), [['0001', '0002'], ['0003', '0004'], ['0005']]);
});

test('chunks stay within the body size, counted in UTF-8 bytes', () => {
  const tasks = Array.from({ length: 30 }, (_, n) => task(n.toString(16).padStart(4, '0'), { title: 'é'.repeat(n) }));
  const chunks = chunksOf(tasks, { maxBatch: 1000, maxBodyBytes: 1000 });
  assert.deepEqual(chunks.flat(), tasks);
  for (const chunk of chunks) {
    assert.ok(new TextEncoder().encode(JSON.stringify({ tasks: chunk })).length <= 900, chunk.length);
  }
  assert.ok(chunks.length > 1);
});
