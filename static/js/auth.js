// The page's credential for a node that has a client token (api.token). It is asked for when a node
// answers 401, kept in session storage — this tab only, gone when the tab closes, never sent by the
// browser by itself as a cookie would be — and sent as Authorization on every request, the /events
// stream included (event-stream.js). The same token is good on every node, so it follows the page
// through a failover. Nothing here touches the DOM: asking is the `ask` function main.js gives.

const STORAGE_KEY = 'todonode.token';

export class Credentials {
  // `storage`: sessionStorage (or a stand-in); `ask(wrong)`: the token the user types, or null when
  // they decline; `wrong` says the last one was refused. `key`: where in storage (the administrator's
  // token is kept apart from the client's: members-admin.js).
  constructor({ storage, ask, key = STORAGE_KEY }) {
    this.storage = storage;
    this.key = key;
    this.ask = ask;
    this.asking = null;
    this.declined = false;
    this.kept = null; // where the token is kept when storage is turned off
  }

  token() {
    try {
      return this.storage.getItem(this.key) || null;
    } catch {
      return this.kept;
    }
  }

  // `headers` with Authorization added when there is a token.
  headers(headers = {}) {
    const token = this.token();
    return token ? { ...headers, Authorization: `Bearer ${token}` } : { ...headers };
  }

  // A node answered 401 to a request that carried `sent` (its Authorization header, or undefined).
  // Resolves true when there is a token to try again with: one another request has just been given,
  // or one the user types now. Requests refused at the same moment share one question; once the user
  // declines, the page asks no more until it is reloaded.
  async refused(sent) {
    const current = this.headers().Authorization;
    if (current && current !== sent) return true;
    if (this.declined) return false;
    this.asking ??= this.askOnce(Boolean(sent)).finally(() => {
      this.asking = null;
    });
    return this.asking;
  }

  async askOnce(wrong) {
    const token = (await this.ask(wrong))?.trim() || null;
    this.keep(token);
    this.declined = !token;
    return Boolean(token);
  }

  keep(token) {
    this.kept = token;
    try {
      if (token) this.storage.setItem(this.key, token);
      else this.storage.removeItem(this.key);
    } catch {
      // Storage is off: the token lives as long as the page.
    }
  }
}
