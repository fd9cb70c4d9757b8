// The guided experiments on the page (demo mode): each one's steps, with a button that does the step,
// what to expect, and the check that turns green once the cluster did it (experiments.js decides).
// One experiment is followed at a time; starting another leaves the first as it was.

import { $, h, setText } from './dom.js';
import { duration, t } from './i18n.js';
import { EXPERIMENTS, ExperimentRun } from './experiments.js';

export class ExperimentsView {
  // `does`: act(node, action) and probe(kind) do things to the cluster; picture() is what it looks like
  // now (experiments.js's `obs`); changed() asks for a render.
  constructor(root, does) {
    this.root = root;
    this.does = does;
    this.runs = new Map(); // experiment id → its latest run
    this.active = null; // the run being followed
    this.root.setAttribute('aria-labelledby', 'experiments-heading');
    this.list = h('ol', { class: 'experiments-list' }, EXPERIMENTS.map((e) => this.item(e)));
    this.root.replaceChildren(h('h2', { id: 'experiments-heading' }), h('p', { class: 'experiments-intro' }), this.list);
    this.root.addEventListener('click', (e) => this.clicked(e));
  }

  item(experiment) {
    return h('li', { class: 'experiment', dataset: { experiment: experiment.id } },
      h('div', { class: 'experiment-head' },
        h('h3', { class: 'experiment-title' }),
        h('span', { class: 'experiment-status' }),
        h('button', { type: 'button', class: 'btn experiment-start', dataset: { run: experiment.id } })),
      h('p', { class: 'experiment-intro' }),
      h('ol', { class: 'experiment-steps' }));
  }

  clicked(event) {
    const button = event.target.closest('button');
    if (!button || !this.root.contains(button)) return;
    if (button.dataset.run) {
      const experiment = EXPERIMENTS.find((e) => e.id === button.dataset.run);
      this.active = new ExperimentRun(experiment, this.does.picture());
      this.runs.set(experiment.id, this.active);
    } else if (button.dataset.do && this.active) {
      for (const node of this.active.base.targets) this.does.act(node, this.active.step.action);
    } else if (button.dataset.probe) {
      this.does.probe(button.dataset.probe);
    }
    this.does.changed();
  }

  // A new picture of the cluster: true if the followed experiment moved on.
  observe() {
    return Boolean(this.active && this.active.observe(this.does.picture()));
  }

  // The page did `action` to `node` (through any button): the followed step's clock starts.
  acted(node, action, at) {
    this.active?.acted(node, action, at);
  }

  render(picture) {
    setText($('#experiments-heading', this.root), t('experimentsHeading'));
    setText($('.experiments-intro', this.root), t('experimentsIntro'));
    for (const experiment of EXPERIMENTS) {
      const li = $(`[data-experiment="${experiment.id}"]`, this.list);
      const run = this.runs.get(experiment.id);
      li.classList.toggle('is-active', run === this.active && !run.done);
      li.classList.toggle('is-done', Boolean(run?.done));
      setText($('.experiment-title', li), t(`ex_${experiment.id}_title`));
      setText($('.experiment-intro', li), t(`ex_${experiment.id}_intro`));
      const status = !run ? '' : run.done ? `✓ ${t('exDone')}` : t('exStepOf', { n: run.index + 1, of: experiment.steps.length });
      setText($('.experiment-status', li), status);
      setText($('.experiment-start', li), run ? t('exAgain') : t('exStart'));
      const steps = $('.experiment-steps', li);
      const shown = run ? experiment.steps.map((step, i) => this.step(experiment, run, step, i, picture)) : [];
      // Rebuilt only when something in it changed: the page renders often, and a button replaced
      // between the press and the release of a click would swallow the click.
      const signature = JSON.stringify(shown);
      if (steps.dataset.shown === signature) continue;
      steps.dataset.shown = signature;
      steps.replaceChildren(...shown.map(stepElement));
    }
  }

  // What one step shows, as plain data.
  step(experiment, run, step, i, picture) {
    const base = run.bases[i];
    const result = run.results[i];
    const current = i === run.index && run === this.active;
    const params = { nodes: base ? listOf(base.targets) || '…' : '…', delay: duration(picture.slowDiskMs) };
    const key = `ex_${experiment.id}_${step.id}`;
    let check = current ? (base?.targets.length ? t('exWatching') : t('exNoTarget')) : '';
    if (result) {
      check = `✓ ${describe(result)}`;
      if (result.afterMs != null) check += t('exAfter', { ms: duration(result.afterMs) });
    }
    return {
      id: step.id,
      state: result ? 'is-passed' : current ? 'is-current' : i < run.index ? 'is-left' : 'is-next',
      does: t(key, params),
      expect: t(`${key}_expect`, params),
      action: current ? step.action : null,
      ready: Boolean(base?.targets.length),
      probe: current ? step.probe ?? null : null,
      check,
      passed: Boolean(result),
      probes: current && step.probe ? this.does.probeText() : '',
    };
  }
}

function stepElement(s) {
  const actions = [];
  if (s.action) actions.push(h('button', { type: 'button', class: 'btn btn-primary', dataset: { do: s.action }, disabled: !s.ready }, t('exDoIt')));
  if (s.probe) actions.push(h('button', { type: 'button', class: 'btn', dataset: { probe: s.probe } }, t(s.probe === 'both' ? 'exTryBoth' : 'exTryWrite')));
  return h('li', { class: `exp-step ${s.state}`, dataset: { step: s.id } },
    h('p', { class: 'exp-do' }, s.does),
    h('p', { class: 'exp-expect' }, h('strong', {}, `${t('exExpect')}: `), s.expect),
    actions.length ? h('div', { class: 'exp-actions' }, actions) : null,
    s.check ? h('p', { class: 'exp-check', dataset: { check: s.passed ? 'passed' : 'waiting' } }, s.check) : null,
    s.probes ? h('p', { class: 'exp-probes' }, s.probes) : null);
}

function describe(result) {
  const params = { ...result.params };
  if (params.role) params.role = t(`role_${params.role}`).toLowerCase();
  return t(result.key, params);
}

export function listOf(items) {
  if (items.length < 2) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${t('and')} ${items[items.length - 1]}`;
}
