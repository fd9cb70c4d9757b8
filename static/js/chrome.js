// The page around the list and the cluster panel: the connection badge and the language buttons in the
// top bar, the read-only banner, the error line, and the live region that screen readers follow.

import { $, setText } from './dom.js';
import { lang, t } from './i18n.js';

const ERROR_SHOWN_MS = 8000;
const CONNECTION_LABELS = { connecting: 'connecting', connected: 'connectedTo', switching: 'switching', offline: 'offline' };

export class PageChrome {
  constructor(doc, idOf) {
    this.doc = doc;
    this.idOf = idOf; // member URL → member id
    this.el = {
      announcer: $('#announcer', doc),
      error: $('#error', doc),
      banner: $('#readonly-banner', doc),
      reason: $('#readonly-reason', doc),
      connection: $('#connection', doc),
      connectionLabel: $('#connection-label', doc),
      connectionNode: $('#connection-node', doc),
      languages: [...doc.querySelectorAll('.lang-btn')],
    };
    this.connection = { state: 'connecting', url: doc.location.origin };
    this.errorTimer = 0;
  }

  announce(text) {
    // Cleared first, so that the same sentence twice is still read twice.
    this.el.announcer.textContent = '';
    setTimeout(() => {
      this.el.announcer.textContent = text;
    }, 50);
  }

  showError(text) {
    const el = this.el.error;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.errorTimer);
    this.errorTimer = setTimeout(() => {
      el.hidden = true;
    }, ERROR_SHOWN_MS);
  }

  connectionState(info) {
    this.connection = { state: info.state, url: info.to ?? info.from ?? this.connection.url };
    if (info.state === 'connected' && info.moved) {
      this.announce(t('switchedNode', { from: this.idOf(info.from), to: this.idOf(info.to) }));
    }
  }

  // `reason`: the read-only gate's reason, or null now that writes are taken again.
  readOnlyChanged(reason) {
    this.announce(reason ? `${t('readOnlyTitle')} ${readOnlyText(reason)}` : t('tl_writable'));
  }

  onLanguagePicked(pick) {
    for (const button of this.el.languages) button.addEventListener('click', () => pick(button.dataset.lang));
  }

  languageShown() {
    for (const button of this.el.languages) button.setAttribute('aria-pressed', String(button.dataset.lang === lang()));
  }

  render(readOnlyReason) {
    const { connection, connectionLabel, connectionNode, banner, reason } = this.el;
    connection.dataset.state = this.connection.state;
    setText(connectionLabel, t(CONNECTION_LABELS[this.connection.state]));
    setText(connectionNode, this.connection.state === 'connected' ? this.idOf(this.connection.url) : '');
    connection.title = this.connection.url ?? '';
    banner.hidden = !readOnlyReason;
    setText(reason, readOnlyReason ? readOnlyText(readOnlyReason) : '');
    this.doc.body.classList.toggle('is-readonly', Boolean(readOnlyReason));
  }
}

function readOnlyText(reason) {
  return reason.reachable != null ? t('readOnlyReason', reason) : t('readOnlyFallback');
}
