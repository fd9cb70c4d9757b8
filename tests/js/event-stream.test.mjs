// static/js/event-stream.js: the Server-Sent Events parser the fetch-based stream uses.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SseParser } from '../../static/js/event-stream.js';

const parse = (...chunks) => {
  const events = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return events;
};

test('events as the node sends them: type, id and one data line', () => {
  const events = parse('retry: 1000\n\nevent: task\nid: 7\ndata: {"op":"create"}\n\n: keep-alive\n\nevent: cluster\ndata: {}\n\n');
  assert.deepEqual(events, [
    { type: 'task', data: '{"op":"create"}', lastEventId: '7' },
    { type: 'cluster', data: '{}', lastEventId: '7' },
  ]);
});

test('an event cut anywhere across chunks is whole once its blank line arrives', () => {
  const text = 'event: task\nid: 12\ndata: {"title":"x"}\n\n';
  for (let cut = 1; cut < text.length; cut++) {
    assert.deepEqual(parse(text.slice(0, cut), text.slice(cut)), [{ type: 'task', data: '{"title":"x"}', lastEventId: '12' }], `cut at ${cut}`);
  }
});

test('several data lines join with newlines; CRLF line ends are read too; no type is a message', () => {
  assert.deepEqual(parse('data: a\r\ndata:b\r\n\r\n'), [{ type: 'message', data: 'a\nb', lastEventId: '' }]);
});

test('comments, retry and unknown fields dispatch nothing; an event without data is dropped', () => {
  assert.deepEqual(parse(': hi\n\nretry: 5\n\nfoo: bar\n\nevent: task\nid: 3\n\n'), []);
});
