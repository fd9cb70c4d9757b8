// Export and import on the page. Export downloads GET /tasks/export as a .jsonl file: straight from
// the node when no token is needed (the browser saves the stream as it comes, per its
// Content-Disposition), else fetched with the token and handed over as a file. Import checks the
// whole file first (task-file.js) and lists every wrong line by number; only a file with none is
// sent, in chunks, each with one Idempotency-Key for all its attempts. A chunk is sent again after a
// failover or a passing refusal (write-policy.js decides which): the node skips the ids it holds, so
// nothing is ever imported twice, and an import cut short is simply chosen again.

import { NetworkError } from './connection.js';
import { $, h, setText } from './dom.js';
import { t } from './i18n.js';
import { chunksOf, importRules, parseTaskFile } from './task-file.js';
import { nextStep } from './write-policy.js';

const EXPORT_PATH = '/tasks/export?consistency=strong';
const WRITE_TIMEOUT_MS = 15_000;
const SHOWN_PROBLEMS = 20;

export class TaskTransfer {
  // `conn`: the page's Connection; `credentials`: auth.js; `announce(text)`: the live region;
  // `newKey()`, `sleep(ms)`: as the outbox has them.
  constructor(root, { win, conn, credentials, announce, newKey, sleep }) {
    Object.assign(this, { win, conn, credentials, announce, newKey, sleep });
    this.el = {
      exportButton: $('.export-tasks', root),
      importButton: $('.import-tasks', root),
      file: $('.import-file', root),
      progress: $('.import-progress', root),
      status: $('.import-status', root),
      problems: $('.import-problems', root),
    };
    this.busy = false;
    this.el.exportButton.addEventListener('click', () => this.download());
    this.el.importButton.addEventListener('click', () => this.el.file.click());
    this.el.file.addEventListener('change', () => {
      const [file] = this.el.file.files;
      this.el.file.value = ''; // the same file may be chosen again, e.g. to finish an import cut short
      if (file) this.upload(file);
    });
  }

  async download() {
    const url = this.conn.current + EXPORT_PATH;
    if (!this.credentials.token()) {
      this.save(url, null);
      return;
    }
    const res = await this.win.fetch(url, { headers: this.credentials.headers(), cache: 'no-store' });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      this.say(t('exportFailed', { message: body?.message ?? `HTTP ${res.status}` }));
      return;
    }
    const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') ?? '')?.[1];
    const link = this.win.URL.createObjectURL(await res.blob());
    this.save(link, name ?? 'todonode-tasks.jsonl');
    setTimeout(() => this.win.URL.revokeObjectURL(link), 0);
  }

  save(href, name) {
    const link = h('a', { href, download: name ?? '' });
    link.hidden = true;
    this.win.document.body.append(link);
    link.click();
    link.remove();
  }

  async upload(file) {
    if (this.busy) return;
    this.busy = true;
    this.el.importButton.disabled = true;
    this.showProblems([]);
    try {
      await this.importTasks(file);
    } catch (err) {
      this.say(t('importFailed', { message: String(err?.message ?? err) }));
    } finally {
      this.busy = false;
      this.el.importButton.disabled = false;
      this.el.progress.hidden = true;
    }
  }

  async importTasks(file) {
    this.say(t('importChecking', { name: file.name }));
    const schema = await this.conn.request('GET', '/openapi.json');
    const rules = importRules(schema.body);
    const { tasks, problems } = parseTaskFile(await file.text(), rules);
    if (problems.length) {
      this.showProblems(problems);
      this.say(t('importRefused', { n: problems.length, name: file.name }));
      return;
    }
    if (!tasks.length) {
      this.say(t('importEmpty', { name: file.name }));
      return;
    }
    const { progress } = this.el;
    progress.max = tasks.length;
    progress.value = 0;
    progress.hidden = false;
    let created = 0;
    let skipped = 0;
    for (const chunk of chunksOf(tasks, rules)) {
      const answer = await this.send(chunk);
      created += answer.created;
      skipped += answer.skipped;
      progress.value += chunk.length;
      setText(this.el.status, t('importProgress', { done: progress.value, total: tasks.length }));
    }
    this.say(t('importDone', { created, skipped, name: file.name }));
  }

  // The node's answer to one chunk, sent again under the same key until the cluster takes it.
  async send(chunk) {
    const request = { body: { tasks: chunk }, headers: { 'Idempotency-Key': this.newKey() }, timeout: WRITE_TIMEOUT_MS };
    const started = performance.now();
    let base = this.conn.current;
    for (;;) {
      let res;
      try {
        res = await this.conn.request('POST', '/tasks/import', { ...request, base });
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        await this.conn.failover(base);
        base = this.conn.current;
        continue;
      }
      const step = nextStep({ kind: 'import' }, res, performance.now() - started);
      if (step.kind === 'done') return step.result;
      if (step.kind === 'fail') throw new Error(step.message);
      if (step.kind === 'leader') base = step.url;
      else await this.sleep(step.waitMs);
    }
  }

  showProblems(problems) {
    const shown = problems.slice(0, SHOWN_PROBLEMS).map((p) => h('li', {}, t('importLine', { line: p.line, what: explain(p) })));
    if (problems.length > SHOWN_PROBLEMS) shown.push(h('li', {}, t('importMoreLines', { n: problems.length - SHOWN_PROBLEMS })));
    this.el.problems.replaceChildren(...shown);
    this.el.problems.hidden = !shown.length;
  }

  say(text) {
    setText(this.el.status, text);
    this.announce(text);
  }
}

function explain({ problem, field }) {
  return t(`importProblem_${problem}`, { field });
}
