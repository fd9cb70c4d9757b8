// An export file (JSON Lines, one task a line) read in the browser, and its tasks cut into import
// requests, without I/O. The rules come from the node's own description (GET /openapi.json): the
// patterns of an imported task's fields, written so that they mean the same in JavaScript as on the
// server, and the limits of one request. So the page refuses a line exactly when the node would, and
// reports every wrong line, by number, before it sends anything. Pure, so that Node can test it.

const FIELDS = ['id', 'title', 'completed', 'created_at', 'updated_at', 'version', 'seq'];
const REQUIRED = ['id', 'title', 'completed', 'created_at', 'updated_at'];
const BODY_SHARE = 0.9; // of the node's largest body a request may fill: room for the JSON around the tasks
const utf8 = new TextEncoder();

// The rules of an import, from the node's OpenAPI document.
export function importRules(openapi) {
  const schemas = openapi?.components?.schemas ?? {};
  const fields = schemas.ImportedTask?.properties;
  const limits = openapi?.info?.['x-todonode-limits'];
  if (!fields || !limits) throw new Error('this node does not describe import: it runs an older release');
  const pattern = (name) => new RegExp(fields[name].pattern, 'u');
  return {
    id: pattern('id'),
    title: pattern('title'),
    createdAt: pattern('created_at'),
    updatedAt: pattern('updated_at'),
    maxVersion: fields.version.maximum,
    maxBatch: limits.max_batch,
    maxBodyBytes: limits.max_body_bytes,
    maxTitleChars: limits.max_title_chars,
  };
}

// The tasks of `text`, ready to send, and what is wrong with each wrong line: {line, problem, field}.
// `seq` is dropped: the importing list numbers its tasks anew, in the order of the lines.
export function parseTaskFile(text, rules) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop(); // the newline that ends the last line
  const tasks = [];
  const problems = [];
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const wrong = problemOf(line, rules);
    if (wrong) problems.push({ line: i + 1, ...wrong });
    else tasks.push(taskOf(JSON.parse(line)));
  });
  return { tasks, problems };
}

function problemOf(line, rules) {
  let task;
  try {
    task = JSON.parse(line);
  } catch {
    return { problem: 'notJson' };
  }
  if (task === null || typeof task !== 'object' || Array.isArray(task)) return { problem: 'notObject' };
  const unknown = Object.keys(task).find((name) => !FIELDS.includes(name));
  if (unknown !== undefined) return { problem: 'unknownField', field: unknown };
  const missing = REQUIRED.find((name) => !(name in task));
  if (missing !== undefined) return { problem: 'missingField', field: missing };
  const checks = [
    ['id', typeof task.id === 'string' && rules.id.test(task.id)],
    ['title', typeof task.title === 'string' && rules.title.test(task.title)],
    ['completed', typeof task.completed === 'boolean'],
    ['created_at', typeof task.created_at === 'string' && rules.createdAt.test(task.created_at)],
    ['updated_at', typeof task.updated_at === 'string' && rules.updatedAt.test(task.updated_at)],
    ['version', !('version' in task) || wholeIn(task.version, 1, rules.maxVersion)],
    ['seq', !('seq' in task) || wholeIn(task.seq, 1, Number.MAX_SAFE_INTEGER)],
  ];
  const failed = checks.find(([, ok]) => !ok);
  return failed ? { problem: 'badField', field: failed[0] } : null;
}

const wholeIn = (value, low, high) => Number.isInteger(value) && value >= low && value <= high;

function taskOf({ seq, ...task }) {
  return task;
}

// `tasks` in order, cut into requests of at most maxBatch tasks and BODY_SHARE of maxBodyBytes.
export function chunksOf(tasks, { maxBatch, maxBodyBytes }) {
  const budget = Math.floor(maxBodyBytes * BODY_SHARE);
  const empty = utf8.encode(JSON.stringify({ tasks: [] })).length;
  const chunks = [];
  let chunk = [];
  let size = empty;
  for (const task of tasks) {
    const bytes = utf8.encode(JSON.stringify(task)).length + 1; // and its comma
    if (chunk.length && (chunk.length === maxBatch || size + bytes > budget)) {
      chunks.push(chunk);
      chunk = [];
      size = empty;
    }
    chunk.push(task);
    size += bytes;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}
