// The administrator's membership controls in the cluster panel: sign in with the admin token (or the
// cluster secret), add a node by its URL, remove a member. Hidden behind a <details> until asked for;
// nothing is sent before the administrator signs in. The token is kept for this tab only, apart from
// the client token (auth.js), and checked once by listing the members (GET /cluster/members): a
// token that cannot administer is never kept. Every request goes to the node the page uses, which
// forwards it to the leader; the answer — or the refusal, in the server's words — is shown as it came.

import { Credentials } from './auth.js';
import { $, h, setText } from './dom.js';
import { t } from './i18n.js';
import { changeRequest } from './membership.js';

const ADMIN_KEY = 'todonode.admin';

export class MembersAdmin {
  // `base()`: the node the page uses now; `onChange()`: a membership change was made (redraw).
  constructor(root, { win, base, onChange }) {
    this.win = win;
    this.base = base;
    this.onChange = onChange;
    this.credentials = new Credentials({ storage: win.sessionStorage, ask: async () => null, key: ADMIN_KEY });
    this.el = {
      state: $('.admin-state', root),
      signIn: $('.admin-sign-in', root),
      form: $('.admin-add', root),
      url: $('.admin-url', root),
      list: $('.admin-members', root),
      result: $('.admin-result', root),
    };
    this.members = [];
    this.signedIn = false;
    this.el.signIn.addEventListener('click', () => (this.signedIn ? this.signOut() : this.signIn()));
    this.el.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.change('add', { url: this.el.url.value });
    });
    this.el.list.addEventListener('click', (event) => {
      const id = event.target.closest('button[data-remove]')?.dataset.remove;
      if (id && win.confirm(t('adminRemoveConfirm', { id }))) this.change('remove', { id });
    });
    if (this.credentials.token()) this.refresh();
  }

  async signIn() {
    const token = this.win.prompt(t('adminTokenPrompt'), '')?.trim();
    if (!token) return;
    this.credentials.keep(token);
    if (!(await this.refresh())) {
      this.credentials.keep(null);
      this.say(t('adminWrong'));
    }
  }

  signOut() {
    this.credentials.keep(null);
    this.signedIn = false;
    this.say('');
    this.render();
  }

  // The members, as the leader lists them; false when the token does not allow it.
  async refresh() {
    const answer = await this.send('GET', '/cluster/members');
    this.signedIn = answer.ok;
    if (answer.ok) this.members = answer.body.members;
    this.render();
    return answer.ok;
  }

  async change(action, what) {
    const { method, path, body } = changeRequest(action, what);
    const answer = await this.send(method, path, body);
    if (!answer.ok) {
      this.say(t('adminFailed', { message: answer.body?.message ?? answer.status }));
      return;
    }
    this.say(t(action === 'add' ? 'adminAdded' : 'adminRemoved', { id: answer.body.id }));
    if (action === 'add') this.el.url.value = '';
    await this.refresh();
    this.onChange();
  }

  async send(method, path, body = null) {
    const headers = this.credentials.headers(body ? { 'Content-Type': 'application/json' } : {});
    try {
      const resp = await this.win.fetch(this.base() + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
      return { ok: resp.ok, status: resp.status, body: await resp.json().catch(() => null) };
    } catch (err) {
      return { ok: false, status: 0, body: { message: String(err?.message ?? err) } };
    }
  }

  say(text) {
    setText(this.el.result, text);
  }

  render() {
    setText(this.el.state, this.signedIn ? t('adminSignedIn') : '');
    setText(this.el.signIn, t(this.signedIn ? 'adminSignOut' : 'adminSignIn'));
    this.el.form.hidden = !this.signedIn;
    this.el.list.hidden = !this.signedIn;
    this.el.list.replaceChildren(
      ...this.members.map((m) =>
        h('li', { dataset: { member: m.id } },
          h('span', { class: 'admin-member' }, `${m.id} · ${m.role}`),
          h('button', { type: 'button', class: 'btn btn-danger-quiet', dataset: { remove: m.id } }, t('adminRemove')))),
    );
  }
}
