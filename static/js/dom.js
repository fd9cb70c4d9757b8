// Small DOM helpers. Text always goes in through textContent, never as HTML: task titles come from
// anyone who can reach the API.

export const $ = (selector, root = document) => root.querySelector(selector);

// h('li', {class: 'node', dataset: {id}}, child, 'text', ...): an element built without innerHTML.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Set text only when it changed, so re-rendering every second does not disturb screen readers or
// text selection.
export function setText(el, text) {
  const value = String(text ?? '');
  if (el.textContent !== value) el.textContent = value;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One render per turn of the event loop, however many changes come in during it. Nothing renders
// before `renderWith` names the render function: the page is composed first, then drawn.
export class RenderQueue {
  constructor() {
    this.render = null;
    this.queued = false;
    this.schedule = () => this.request();
  }

  renderWith(render) {
    this.render = render;
  }

  request() {
    if (this.queued || !this.render) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.render();
    });
  }
}

// One key per user action, re-sent unchanged on every retry so the cluster applies it once.
// crypto.randomUUID exists only in secure contexts (https, localhost); a cluster reached over plain
// http on a LAN still gets a random v4 UUID.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
