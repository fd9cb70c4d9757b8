// The page's link to the cluster: which node it talks to, the live event stream, the status polls,
// and failover. Nothing here knows about the page's DOM; it reports through the handlers it is given.
//
// Failover: the node list comes from GET /cluster/status (nodes[].url), never from the page. When the
// node in use stops answering (its event stream breaks, a poll times out, a request fails), every
// node is probed at once and the page moves to a live one, preferring the leader. The event stream is
// resumed there from the last log index the page applied, so no change is missed or applied twice.

import { sleep } from './dom.js';
import { EventStream } from './event-stream.js';
import { appliedIndex } from './protocol.js';

const PROBE_TIMEOUT_MS = 800;
const POLL_EVERY_MS = 1000;
const POLL_TIMEOUT_MS = 900; // a node slower than this to describe the cluster is checked: is it alive?
const READ_TIMEOUT_MS = 6000; // GET /tasks?min_index may wait (bounded) on the server
const RETRY_OFFLINE_MS = 1000;
const FIRST_PAGE = 200; // the newest tasks, shown before the rest of a long list arrives
const PAGE = 1000; // tasks per GET /tasks, the most a node serves

// A request that got no HTTP answer at all: refused, reset, or timed out. `base` is the node it went to.
export class NetworkError extends Error {
  constructor(base, cause) {
    super(`${base}: ${cause?.name === 'AbortError' ? 'no answer in time' : cause?.message || cause}`);
    this.base = base;
  }
}

const portOf = (url) => new URL(url).port || (url.startsWith('https:') ? '443' : '80');

export class Connection {
  // `credentials`: what every request carries, and who is asked when a node answers 401 (auth.js).
  constructor(origin, credentials) {
    this.credentials = credentials;
    this.current = origin;
    this.urls = [origin]; // every member's URL, as the cluster reports them
    this.ids = new Map(); // member URL → member id, as the cluster reports them
    this.leaderUrl = null;
    this.lastIndex = null; // highest log index whose task events this page holds
    this.h = null; // what the page is told: given to start()
    this.stream = null;
    this.switching = null;
    this.inflight = new Set(); // aborted when the page leaves their node, so their senders retry elsewhere
    this.loads = 0; // numbers each load of the list, so that an older one in the background stops
    this.wakePoll = () => {};
  }

  // `handlers`: onState(info), onStatus(cluster, base), onNodeStatus(url, status), onTasks(tasks, index),
  // onOlderTasks(tasks), onTaskEvent(change, index), onClusterEvent(event, base).
  async start(handlers) {
    this.h = handlers;
    this.h.onState({ state: 'connecting', to: this.current });
    // The members first: should this node stop answering a moment from now, the page must already
    // know where else to go.
    for (;;) {
      try {
        if (await this.pollOnce()) break;
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
      }
      await sleep(RETRY_OFFLINE_MS);
    }
    await this.loadTasks();
    this.openStream(false);
    this.h.onState({ state: 'connected', to: this.current });
    this.pollLoop();
  }

  // fetch with a deadline and the page's credential; answers with {status, ok, body, headers, base} or
  // throws NetworkError. A 401 is asked about (auth.js) and, with a token, sent once more.
  async request(method, path, options = {}) {
    const res = await this.send(method, path, options);
    if (res.status === 401 && (await this.credentials.refused(res.authorization))) return this.send(method, path, options);
    return res;
  }

  async send(method, path, { body, headers = {}, timeout = READ_TIMEOUT_MS, base = this.current, track = true } = {}) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeout);
    if (track) this.inflight.add(abort);
    const init = { method, headers: this.credentials.headers(headers), signal: abort.signal, cache: 'no-store' };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    try {
      const res = await fetch(base + path, init);
      const text = await res.text(); // inside the try: a body cut off mid-way is no answer either
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON (a proxy's error page): the status still says what happened.
      }
      return { status: res.status, ok: res.ok, body: data, headers: res.headers, base, authorization: init.headers.Authorization };
    } catch (err) {
      throw new NetworkError(base, err);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(abort);
    }
  }

  // The newest tasks, and the log index they reflect: the event stream resumes from exactly there.
  // The rest of the list follows in the background (loadOlder), so a long list shows at once.
  async loadTasks() {
    this.loads += 1; // a load still going on for an earlier one stops
    for (;;) {
      const base = this.current;
      // After a reset, ask for at least what the page already showed (read-your-writes on any node).
      const query = this.lastIndex ? `&min_index=${this.lastIndex}` : '';
      try {
        let res = await this.request('GET', `/tasks?limit=${FIRST_PAGE}${query}`);
        if (res.status === 503 && query) res = await this.request('GET', `/tasks?limit=${FIRST_PAGE}`); // a lagging node: take what it has
        if (res.ok) {
          this.lastIndex = appliedIndex(res.headers);
          this.h.onTasks(res.body.tasks, this.lastIndex);
          this.loadOlder(res.body.next_cursor, this.loads);
          return;
        }
        await sleep(RETRY_OFFLINE_MS);
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        await this.failover(base);
      }
    }
  }

  // The pages after the first, oldest last, from whichever node the page uses, until the list is
  // whole or another load begins (`load`). A page answered later than the first one is no problem:
  // the events since the first one's index reach the page as well, and TaskList keeps the newest.
  async loadOlder(cursor, load) {
    while (cursor != null && load === this.loads) {
      try {
        const res = await this.request('GET', `/tasks?limit=${PAGE}&cursor=${cursor}`);
        if (load !== this.loads) return;
        if (res.ok) {
          this.h.onOlderTasks(res.body.tasks);
          cursor = res.body.next_cursor;
          continue;
        }
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
      }
      await sleep(RETRY_OFFLINE_MS); // a failover, if one is due, is the stream's and the polls' to make
    }
  }

  // `resume`: the stream broke; ask again for the last index seen as well, because one log entry (a
  // batch) yields many events with the same id, and the break may have come in the middle of them.
  // Applying an event twice is harmless; missing one is not.
  openStream(resume) {
    this.closeStream();
    const url = new URL('/events', this.current);
    if (this.lastIndex != null) {
      url.searchParams.set('last_event_id', String(resume ? Math.max(0, this.lastIndex - 1) : this.lastIndex));
    }
    const base = this.current;
    const es = new EventStream(url, this.credentials);
    this.stream = es;
    const live = (fn) => (e) => {
      if (es === this.stream) fn(e);
    };
    es.addEventListener('task', live((e) => {
      const index = Number(e.lastEventId);
      if (this.lastIndex != null && index < this.lastIndex) return; // already in the list we hold
      this.lastIndex = index;
      this.h.onTaskEvent(JSON.parse(e.data), index);
    }));
    es.addEventListener('cluster', live((e) => {
      this.h.onClusterEvent(JSON.parse(e.data), base);
      this.wakePoll(); // a role or peer change: refresh the whole picture now
    }));
    es.addEventListener('reset', live(() => this.resync()));
    // The page decides where to go when the stream fails, never the stream itself.
    es.addEventListener('error', live(() => {
      this.closeStream();
      this.failover(base);
    }));
  }

  closeStream() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  // The node cannot replay from where the page is (its history starts later, or it installed a
  // snapshot): take its whole list again and stream from there.
  async resync() {
    this.closeStream();
    await this.loadTasks();
    this.openStream(false);
  }

  // Move to a live node. One move at a time: everyone who noticed the failure awaits the same one.
  // `failedBase` is the node the caller saw fail; if the page has already left it, nothing to do.
  failover(failedBase = this.current) {
    if (this.switching) return this.switching;
    if (failedBase !== this.current) return Promise.resolve();
    this.switching = this.moveFrom(failedBase).finally(() => {
      this.switching = null;
    });
    return this.switching;
  }

  async moveFrom(from) {
    const started = performance.now();
    let announced = false;
    for (;;) {
      const alive = await this.probe();
      const to = this.choose(alive, from);
      if (to === from) {
        // Still there: a dropped stream or one slow answer, not a dead node. Nothing to announce.
        if (!this.stream) this.openStream(true);
        if (announced) this.h.onState({ state: 'connected', from, to, ms: performance.now() - started, moved: false });
        return;
      }
      if (!announced) {
        announced = true;
        this.closeStream();
        for (const abort of this.inflight) abort.abort(); // their senders re-send to the new node
        this.h.onState({ state: 'switching', from });
      }
      if (to) {
        this.current = to;
        this.openStream(true);
        this.h.onState({ state: 'connected', from, to, ms: performance.now() - started, moved: true });
        this.wakePoll();
        return;
      }
      this.h.onState({ state: 'offline', from });
      await sleep(RETRY_OFFLINE_MS);
    }
  }

  // Every known node asked at once; the URLs that answered.
  async probe() {
    const urls = [...new Set([this.current, ...this.urls])];
    const answers = await Promise.all(urls.map(async (url) => {
      try {
        const res = await this.request('GET', '/health', { base: url, timeout: PROBE_TIMEOUT_MS, track: false });
        return res.ok ? url : null;
      } catch {
        return null;
      }
    }));
    return answers.filter(Boolean);
  }

  // Stay if the node merely dropped the stream; else the leader (writes then need no forwarding);
  // else the next node after the failed one, so that pages spread out instead of all piling on one.
  choose(alive, from) {
    if (alive.includes(from)) return from;
    if (this.leaderUrl && alive.includes(this.leaderUrl)) return this.leaderUrl;
    const start = this.urls.indexOf(from);
    for (let i = 1; i <= this.urls.length; i++) {
      const url = this.urls[(start + i) % this.urls.length];
      if (alive.includes(url)) return url;
    }
    return null;
  }

  // GET /cluster/status from the node in use every second (it also tells the page whether that node
  // still answers), and each node's own /status for its term, commit and applied index. Nodes the
  // cluster reports unreachable are not asked.
  async pollLoop() {
    for (;;) {
      const base = this.current;
      try {
        await this.pollOnce();
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        await this.failover(base);
        continue;
      }
      await new Promise((resolve) => {
        this.wakePoll = resolve;
        setTimeout(resolve, POLL_EVERY_MS);
      });
    }
  }

  // One look at the cluster; true if the node answered with its status. Throws NetworkError.
  async pollOnce() {
    const base = this.current;
    const res = await this.request('GET', '/cluster/status', { timeout: POLL_TIMEOUT_MS });
    if (!res.ok) return false;
    this.learn(res.body);
    this.h.onStatus(res.body, base);
    await this.pollNodes(res.body);
    return true;
  }

  // A member's id, from the URL the page uses for it. Ids come from the cluster (node<port>, or
  // host:port when members share a port); a URL the cluster does not list (localhost for
  // 127.0.0.1) is matched by its port when that is unambiguous.
  idOf(url) {
    if (this.ids.has(url)) return this.ids.get(url);
    const samePort = [...this.ids].filter(([known]) => portOf(known) === portOf(url));
    return samePort.length === 1 ? samePort[0][1] : `node${portOf(url)}`;
  }

  learn(cluster) {
    const urls = (cluster.nodes || []).map((n) => n.url).filter(Boolean);
    if (urls.length) this.urls = urls;
    for (const row of cluster.nodes || []) if (row.url && row.id) this.ids.set(row.url, row.id);
    this.leaderUrl = cluster.leader || null;
  }

  async pollNodes(cluster) {
    await Promise.all((cluster.nodes || []).map(async (row) => {
      if (!row.reachable && row.url !== this.current) {
        this.h.onNodeStatus(row.url, null);
        return;
      }
      try {
        const res = await this.request('GET', '/status', { base: row.url, timeout: POLL_TIMEOUT_MS, track: false });
        this.h.onNodeStatus(row.url, res.ok ? res.body : null);
      } catch {
        this.h.onNodeStatus(row.url, null);
      }
    }));
  }
}
