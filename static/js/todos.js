// The list, as TodoMVC specifies it: add on Enter, toggle, double-click (or the edit button) to edit,
// delete, toggle all, "N items left", All / Active / Completed routed by the URL hash, clear completed;
// plus the multi-line box and delete-all. One listener per kind of event on the list (delegation),
// and `render` brings the DOM in line with the state: rows are kept by task id and updated in place,
// so a row being edited, or an input being typed in, is never replaced under the user's hands.
//
// A long list is shown a page of PAGE_ROWS rows at a time, with a pager. Pages are counted back from
// the newest tasks: the page shown is the newest one unless the user went back to older ones, and a
// task the user adds brings it there, so the new row shows at once. Only the rows of that page are in
// the DOM, whatever the length of the list.

import { $, h, setText } from './dom.js';
import { FILTERS } from './model.js';
import { t } from './i18n.js';

const MAX_BATCH = 1000;
const PAGE_ROWS = 100;

// What an action did, in words: for the live region and the panel's "last write".
export function describe(action) {
  switch (action.kind) {
    case 'create':
      return action.batch ? t('addedMany', { n: action.titles.length }) : t('added', { title: action.titles[0] });
    case 'update':
      if ('title' in action.changes) return t('renamedTask', { title: action.changes.title });
      return t(action.changes.completed ? 'completedTask' : 'reopenedTask', { title: action.title });
    case 'delete':
      return t('deletedTask', { title: action.title });
    case 'clear':
      return t('clearedCompleted');
    case 'deleteAll':
      return t('deletedAll');
    default:
      return t('markedAll');
  }
}

export class TodoView {
  constructor(root, { dispatch, announce, showError }) {
    this.dispatch = dispatch;
    this.announce = announce;
    this.showError = showError;
    this.editing = null; // {id} of the row being edited
    this.rowsMade = 0; // numbers the rows' title ids, which their controls are labelled by
    this.state = { tasks: [], filter: 'all', readOnly: false };
    this.back = 0; // pages back from the newest, of the page shown
    this.visible = []; // the tasks the filter shows, oldest first
    this.shown = new Map(); // id -> task of every row on the page (not pending ones)
    this.el = {
      newTodo: $('.new-todo', root),
      main: $('.main', root),
      toggleAll: $('.toggle-all', root),
      list: $('.todo-list', root),
      footer: $('.footer', root),
      count: $('.todo-count', root),
      filters: [...root.querySelectorAll('.filters a')],
      clear: $('.clear-completed', root),
      batchText: $('.batch-text', root),
      batchAdd: $('.batch-add', root),
      deleteAll: $('.delete-all', root),
      older: h('button', { class: 'pager-older', type: 'button' }),
      range: h('span', { class: 'pager-range' }),
      newer: h('button', { class: 'pager-newer', type: 'button' }),
    };
    this.el.pager = h('nav', { class: 'pager', hidden: true }, this.el.older, this.el.range, this.el.newer);
    this.el.list.after(this.el.pager);
    this.listen();
  }

  listen() {
    const { newTodo, toggleAll, list, clear, batchText, batchAdd, deleteAll } = this.el;

    newTodo.addEventListener('keydown', (e) => {
      // isComposing: Vietnamese (and other) input methods use Enter to finish a word.
      if (e.key !== 'Enter' || e.isComposing) return;
      e.preventDefault();
      const title = newTodo.value.trim();
      if (!title) return this.announce(t('emptyRefused'));
      if (this.state.readOnly) return this.announce(t('readOnlyNotSent'));
      this.back = 0; // the new row is on the newest page
      this.dispatch({ kind: 'create', titles: [title] });
      newTodo.value = '';
    });

    this.el.older.addEventListener('click', () => this.turn(-1));
    this.el.newer.addEventListener('click', () => this.turn(+1));

    toggleAll.addEventListener('change', () => this.dispatch({ kind: 'setAll', completed: toggleAll.checked }));

    list.addEventListener('change', (e) => {
      if (!e.target.matches('.toggle')) return;
      const task = this.taskOf(e.target);
      if (task) this.dispatch({ kind: 'update', id: task.id, changes: { completed: e.target.checked }, title: task.title });
    });

    list.addEventListener('click', (e) => {
      const button = e.target.closest('button');
      const task = button && this.taskOf(button);
      if (!task) return;
      if (button.matches('.destroy')) this.dispatch({ kind: 'delete', id: task.id, title: task.title });
      else if (button.matches('.edit-btn')) this.startEdit(task);
    });

    list.addEventListener('dblclick', (e) => {
      const task = e.target.closest('.title') && this.taskOf(e.target);
      if (task) this.startEdit(task);
    });

    list.addEventListener('keydown', (e) => {
      if (!e.target.matches('.edit') || e.isComposing) return;
      if (e.key === 'Enter') this.finishEdit(true);
      else if (e.key === 'Escape') this.finishEdit(false);
    });

    // Leaving the field saves, as Enter does (TodoMVC). focusout bubbles; blur does not.
    list.addEventListener('focusout', (e) => {
      if (e.target.matches('.edit')) this.finishEdit(true);
    });

    clear.addEventListener('click', () => this.dispatch({ kind: 'clear' }));

    batchText.addEventListener('input', () => this.renderBatch());
    batchText.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) this.addBatch();
    });
    batchAdd.addEventListener('click', () => this.addBatch());

    deleteAll.addEventListener('click', () => {
      const n = this.state.tasks.filter((task) => !task.pending).length;
      if (n && window.confirm(t('confirmDeleteAll', { n }))) this.dispatch({ kind: 'deleteAll' });
    });
  }

  taskOf(el) {
    return this.shown.get(el.closest('li')?.dataset.id);
  }

  // Go `by` pages towards the newest (+) or the oldest (-).
  turn(by) {
    this.back = Math.max(0, this.back - by);
    this.render(this.state);
  }

  // The rows of the page shown, out of `count`: [start, end), the newest page ending at `count`.
  pageWindow(count) {
    const pages = Math.max(1, Math.ceil(count / PAGE_ROWS));
    this.back = Math.min(this.back, pages - 1);
    const end = count - this.back * PAGE_ROWS;
    return { start: Math.max(0, end - PAGE_ROWS), end, pages };
  }

  batchLines() {
    return this.el.batchText.value.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  }

  addBatch() {
    const titles = this.batchLines();
    if (!titles.length || this.state.readOnly) return;
    if (titles.length > MAX_BATCH) return this.showError(t('batchTooMany', { max: MAX_BATCH, n: titles.length }));
    this.back = 0;
    this.dispatch({ kind: 'create', titles, batch: true });
    this.el.batchText.value = '';
    this.renderBatch();
  }

  startEdit(task) {
    if (this.state.readOnly) return;
    this.editing = { id: task.id };
    this.render(this.state);
  }

  finishEdit(save) {
    const editing = this.editing;
    if (!editing) return; // Enter already saved; the blur that follows has nothing left to do
    this.editing = null;
    const li = this.el.list.querySelector(`li[data-id="${CSS.escape(editing.id)}"]`);
    const input = li && $('.edit', li);
    const task = this.shown.get(editing.id);
    if (save && input && task) {
      const title = input.value.trim();
      if (!title) this.dispatch({ kind: 'delete', id: task.id, title: task.title });
      else if (title !== task.title) this.dispatch({ kind: 'update', id: task.id, changes: { title }, title });
    }
    this.render(this.state);
    // Keyboard users land back on the row they edited, not at the top of the page.
    if (li?.isConnected) $('.edit-btn', li)?.focus();
  }

  render(state) {
    if (state.filter !== this.state.filter) this.back = 0;
    this.state = state;
    const { tasks, filter, readOnly } = state;
    const { newTodo, main, toggleAll, footer, count, filters, clear, deleteAll } = this.el;
    const active = tasks.filter((task) => !task.completed).length;
    const completed = tasks.length - active;
    const empty = tasks.length === 0;

    main.hidden = empty;
    footer.hidden = empty;
    deleteAll.hidden = empty;
    toggleAll.checked = !empty && active === 0;
    toggleAll.disabled = readOnly;
    setText(count, t('itemsLeft', { n: active }));
    for (const a of filters) {
      const selected = a.dataset.filter === filter;
      a.classList.toggle('selected', selected);
      if (selected) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    clear.hidden = completed === 0;
    clear.disabled = readOnly;
    deleteAll.disabled = readOnly;
    newTodo.placeholder = t(readOnly ? 'newTodoPlaceholderReadOnly' : 'newTodoPlaceholder');
    newTodo.classList.toggle('is-readonly', readOnly);
    this.visible = tasks.filter(FILTERS[filter]);
    const { start, end, pages } = this.pageWindow(this.visible.length);
    const rows = this.visible.slice(start, end);
    this.shown = new Map(rows.filter((task) => !task.pending).map((task) => [task.id, task]));
    this.renderList(rows, readOnly);
    this.renderPager(start, end, pages);
    this.renderBatch();
  }

  renderPager(start, end, pages) {
    const { pager, older, range, newer } = this.el;
    pager.hidden = pages < 2;
    if (pager.hidden) return;
    pager.setAttribute('aria-label', t('pagerLabel'));
    setText(older, t('pagerOlder'));
    setText(newer, t('pagerNewer'));
    setText(range, t('pagerRange', { from: start + 1, to: end, total: this.visible.length }));
    older.disabled = start === 0;
    newer.disabled = this.back === 0;
  }

  renderBatch() {
    const n = this.batchLines().length;
    setText(this.el.batchAdd, t('batchAdd', { n }));
    this.el.batchAdd.disabled = n === 0 || this.state.readOnly;
  }

  renderList(tasks, readOnly) {
    const list = this.el.list;
    const rows = new Map([...list.children].map((li) => [li.dataset.id, li]));
    if (this.editing && !tasks.some((task) => task.id === this.editing.id)) this.editing = null; // deleted elsewhere
    let previous = null;
    for (const task of tasks) {
      let li = rows.get(task.id);
      if (li) rows.delete(task.id);
      else li = this.createRow(task.id);
      this.updateRow(li, task, readOnly);
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (li !== expected) list.insertBefore(li, expected); // moves only what is out of place
      previous = li;
    }
    for (const li of rows.values()) li.remove();
  }

  createRow(id) {
    const titleId = `task-title-${++this.rowsMade}`;
    const toggle = h('input', { class: 'toggle', type: 'checkbox', 'aria-labelledby': titleId });
    const title = h('label', { class: 'title', id: titleId });
    const state = h('span', { class: 'row-state' });
    const edit = h('button', { class: 'edit-btn', type: 'button' }, h('span', { 'aria-hidden': 'true' }, '✎'));
    const destroy = h('button', { class: 'destroy', type: 'button' }, h('span', { 'aria-hidden': 'true' }, '×'));
    return h('li', { dataset: { id } }, h('div', { class: 'view' }, toggle, title, state, edit, destroy));
  }

  updateRow(li, task, readOnly) {
    const pending = Boolean(task.pending);
    const editing = this.editing?.id === task.id;
    li.classList.toggle('completed', Boolean(task.completed));
    li.classList.toggle('pending', pending);
    li.classList.toggle('held', task.pending === 'held');
    li.classList.toggle('editing', editing);
    const toggle = $('.toggle', li);
    toggle.checked = Boolean(task.completed);
    toggle.disabled = readOnly || pending;
    setText($('.title', li), task.title);
    setText($('.row-state', li), pending ? t(task.pending === 'held' ? 'held' : 'pending') : '');
    for (const [selector, key] of [['.edit-btn', 'editTask'], ['.destroy', 'deleteTask']]) {
      const button = $(selector, li);
      button.setAttribute('aria-label', t(key, { title: task.title }));
      button.title = t(key, { title: task.title });
      button.disabled = readOnly || pending;
    }
    let input = $('.edit', li);
    if (editing && !input) {
      input = h('input', { class: 'edit', type: 'text', maxlength: '500', 'aria-label': t('editField') });
      input.value = task.title;
      li.append(input);
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    } else if (!editing && input) {
      input.remove();
    }
  }
}
