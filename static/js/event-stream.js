// Server-Sent Events read with fetch. EventSource cannot send an Authorization header, and a node with
// a client token needs one on /events (api.protect_reads); fetch can, and the page sends every
// request with the same credential (auth.js).
//
// EventStream offers the part of EventSource the page uses: addEventListener(type, fn) with events
// of {data, lastEventId}, 'error' when the stream fails or ends, and close(). Like the page's use of
// EventSource, it never reconnects by itself: connection.js decides where to go. A stream the node
// refuses for want of a token, when no token comes, ends quietly: no other node would answer
// differently. SseParser is pure, so that Node can test it (tests/js).

export class SseParser {
  constructor(dispatch) {
    this.dispatch = dispatch; // ({type, data, lastEventId})
    this.buffer = '';
    this.lastEventId = '';
    this.type = '';
    this.data = [];
  }

  // A piece of the stream's text, cut anywhere.
  push(text) {
    const lines = (this.buffer + text).split('\n');
    this.buffer = lines.pop();
    for (const line of lines) this.line(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.dispatch({ type: this.type || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId });
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment: the node's keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const raw = colon < 0 ? '' : line.slice(colon + 1);
    const value = raw.startsWith(' ') ? raw.slice(1) : raw;
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    // "retry" and unknown fields: the page decides when and where to reconnect.
  }
}

export class EventStream {
  // `credentials`: headers() for each attempt, and refused(sent) when the node answers 401 (true: try
  // again, with the token it now has).
  constructor(url, credentials) {
    this.listeners = new Map();
    this.abort = new AbortController();
    this.closed = false;
    this.run(String(url), credentials);
  }

  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }

  close() {
    this.closed = true;
    this.abort.abort();
  }

  emit(type, event) {
    for (const fn of this.listeners.get(type) || []) fn(event);
  }

  async run(url, credentials) {
    try {
      for (;;) {
        const headers = { Accept: 'text/event-stream', ...credentials.headers() };
        const res = await fetch(url, { headers, signal: this.abort.signal, cache: 'no-store' });
        if (res.status === 401) {
          if (await credentials.refused(headers.Authorization)) continue;
          return; // no token: the stream stays closed, and quiet
        }
        if (!res.ok || !res.body) break;
        const parser = new SseParser((event) => this.emit(event.type, event));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(value);
        }
        break;
      }
    } catch {
      // Refused, reset or aborted: the same as a stream that ended.
    }
    if (!this.closed) this.emit('error', {});
  }
}
