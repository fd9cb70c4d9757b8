// HTTP answers as Connection.request gives them: {status, ok, body, headers}.

export function answer(status, body = null, headers = {}) {
  return { status, ok: status >= 200 && status < 300, body, headers: new Headers(headers) };
}
