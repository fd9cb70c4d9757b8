// How the page reads what the server says besides the body it asked for. Pure: no DOM, no fetch, so
// that Node can test it (tests/js).

export const APPLIED_HEADER = 'X-Todonode-Applied-Index';

// The log index an answer reflects (X-Todonode-Applied-Index); 0 when the answer does not say.
export function appliedIndex(headers) {
  return Number(headers.get(APPLIED_HEADER)) || 0;
}
