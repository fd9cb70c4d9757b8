// English and Vietnamese (the language the project started in). The language comes from the browser,
// can be switched in the top bar, and is remembered in localStorage. Strings are templates with {name}
// placeholders; the few that depend on a number are functions. The quorum's numbers ({voters},
// {needed}, {reachable}) come from the server and may be unknown (absent): those strings say so.

const nodesUp = (p) => (p.voters == null ? 'quorum unknown' : `${p.reachable} of ${p.voters} nodes up`);

const en = {
  tagline: 'replicated todo list',
  language: 'Language',
  connecting: 'Connecting…',
  connectedTo: 'Connected to',
  switching: 'Node stopped answering — switching…',
  offline: 'No node answers — retrying…',
  readOnlyTitle: 'Read-only.',
  readOnlyReason: '{reachable} of {voters} nodes reachable; {needed} needed to accept writes. Reading still works; changes are paused until enough nodes are back.',
  readOnlyFallback: 'The cluster has no quorum. Reading still works; changes are paused until enough nodes are back.',
  tasksHeading: 'Tasks',
  newTodoLabel: 'New task',
  newTodoPlaceholder: 'What needs to be done?',
  newTodoPlaceholderReadOnly: 'Read-only for now — you can keep typing',
  newTodoHint: 'Press Enter to add.',
  toggleAll: 'Mark all as complete',
  listLabel: 'Tasks',
  filtersLabel: 'Show',
  filterAll: 'All',
  filterActive: 'Active',
  filterCompleted: 'Completed',
  clearCompleted: 'Clear completed',
  itemsLeft: (n) => `${n} ${n === 1 ? 'item' : 'items'} left`,
  batchSummary: 'Add many at once',
  batchLabel: 'One task per line; blank lines are skipped.',
  batchAdd: (n) => (n === 1 ? 'Add 1 task' : `Add ${n} tasks`),
  batchNote: 'Sent as one request: all are added, or none.',
  batchTooMany: 'At most {max} tasks at once; you have {n}.',
  deleteAll: 'Delete all…',
  confirmDeleteAll: (n) => `Delete all ${n} ${n === 1 ? 'task' : 'tasks'} on every node? This cannot be undone.`,
  editTask: 'Edit “{title}”',
  deleteTask: 'Delete “{title}”',
  editField: 'Edit task',
  pagerLabel: 'Pages of tasks',
  pagerOlder: '‹ Older',
  pagerNewer: 'Newer ›',
  pagerRange: '{from}–{to} of {total}',
  pending: 'saving…',
  held: 'waiting for quorum',
  added: 'Added “{title}”.',
  addedMany: (n) => `Added ${n} ${n === 1 ? 'task' : 'tasks'}.`,
  completedTask: 'Completed “{title}”.',
  reopenedTask: 'Reopened “{title}”.',
  deletedTask: 'Deleted “{title}”.',
  renamedTask: 'Renamed to “{title}”.',
  clearedCompleted: 'Cleared completed tasks.',
  deletedAll: 'Deleted all tasks.',
  markedAll: 'Marked all tasks.',
  emptyRefused: 'Type a task first.',
  readOnlyNotSent: 'Read-only: not sent. Your text is kept.',
  writeFailed: 'Not saved: {message}',
  switchedNode: 'Lost contact with {from}; now connected to {to}.',
  clusterHeading: 'Cluster',
  nodesLabel: 'Nodes',
  summary: (p) => `Leader ${p.leader} · term ${p.term} · ${nodesUp(p)}`,
  summaryNoLeader: (p) => `No leader yet — election under way · ${nodesUp(p)}`,
  summaryNoQuorum: (p) => `No leader — too few nodes to elect one · ${nodesUp(p)}`,
  summaryLeaderless: (p) => `No leader at the moment · ${nodesUp(p)}`,
  role_leader: 'Leader',
  role_follower: 'Follower',
  role_candidate: 'Candidate',
  role_pre_candidate: 'Pre-candidate',
  role_down: 'Down',
  role_unknown: 'Unknown',
  term: 'term {term}',
  reachable: 'reachable',
  unreachable: 'unreachable',
  contact: 'contact {ms} ago',
  contactNone: 'no contact',
  commit: 'commit',
  applied: 'applied',
  lag: 'lag',
  lagValue: (n) => (n == null ? '—' : `${n} ${n === 1 ? 'entry' : 'entries'}`),
  thisPage: 'this page',
  writePathHeading: 'Last write',
  writePathNone: 'Nothing written from this page yet.',
  writeReceived: 'received by',
  writeForwarded: 'forwarded to leader',
  writeLed: 'led by',
  writeCommitted: 'applied at index {index} · {ms} ms',
  writeReplayed: 'a retry: replayed, not applied twice',
  writeRetries: (n) => `sent ${n + 1} times across a failover`,
  timelineHeading: 'Timeline',
  tl_start: 'Page connected to {node}; {leader} leads in term {term}.',
  tl_startNoLeader: 'Page connected to {node}; no leader yet.',
  tl_leader: '{node} became leader (term {term}).',
  tl_leaderLost: 'Leader {node} lost; the others hold an election.',
  tl_election: '{node} started an election for term {term}.',
  tl_down: '{node} went down.',
  tl_up: '{node} is back.',
  tl_lost: 'This page lost contact with {node}.',
  tl_switched: 'Page moved to {to} in {ms}.',
  tl_offline: 'No node answers this page.',
  tl_readOnly: 'Cluster read-only: {reachable} of {voters} nodes reachable; {needed} needed.',
  tl_writable: 'Quorum back: writes accepted again.',
  caption: (p) =>
    'The leader orders every write and copies it to the followers; a write counts once ' +
    `${p.needed == null ? 'a majority of the nodes hold' : `${p.needed} of ${p.voters} nodes hold`} it. ` +
    'If the leader stops, the others notice within about half a second and elect a new one; this page moves to a live node ' +
    'by itself and re-sends anything unanswered, without duplicates. ' +
    `${p.needed == null ? 'Without a majority up' : `With fewer than ${p.needed} nodes up`} the list is read-only.`,
};

const nodesUpVi = (p) => (p.voters == null ? 'chưa rõ quorum' : `${p.reachable}/${p.voters} node hoạt động`);

const vi = {
  tagline: 'danh sách công việc nhân bản',
  language: 'Ngôn ngữ',
  connecting: 'Đang kết nối…',
  connectedTo: 'Đang kết nối tới',
  switching: 'Node không phản hồi — đang chuyển…',
  offline: 'Không node nào phản hồi — đang thử lại…',
  readOnlyTitle: 'Chỉ đọc.',
  readOnlyReason: 'Liên lạc được {reachable}/{voters} node; cần {needed} node để ghi. Vẫn xem được; việc thay đổi tạm dừng cho tới khi đủ node hoạt động trở lại.',
  readOnlyFallback: 'Cluster không đủ số node (quorum). Vẫn xem được; việc thay đổi tạm dừng cho tới khi đủ node hoạt động trở lại.',
  tasksHeading: 'Công việc',
  newTodoLabel: 'Công việc mới',
  newTodoPlaceholder: 'Cần làm gì?',
  newTodoPlaceholderReadOnly: 'Tạm thời chỉ đọc — bạn vẫn có thể gõ tiếp',
  newTodoHint: 'Nhấn Enter để thêm.',
  toggleAll: 'Đánh dấu tất cả là đã hoàn thành',
  listLabel: 'Công việc',
  filtersLabel: 'Hiển thị',
  filterAll: 'Tất cả',
  filterActive: 'Đang làm',
  filterCompleted: 'Đã hoàn thành',
  clearCompleted: 'Xóa việc đã xong',
  itemsLeft: (n) => `Còn ${n} việc`,
  batchSummary: 'Thêm nhiều công việc',
  batchLabel: 'Mỗi dòng một công việc; dòng trống được bỏ qua.',
  batchAdd: (n) => `Thêm ${n} công việc`,
  batchNote: 'Gửi trong một yêu cầu: thêm tất cả, hoặc không thêm gì.',
  batchTooMany: 'Tối đa {max} công việc mỗi lần; bạn đang có {n}.',
  deleteAll: 'Xóa tất cả…',
  confirmDeleteAll: (n) => `Xóa tất cả ${n} công việc trên mọi node? Không thể hoàn tác.`,
  editTask: 'Sửa “{title}”',
  deleteTask: 'Xóa “{title}”',
  editField: 'Sửa công việc',
  pagerLabel: 'Các trang công việc',
  pagerOlder: '‹ Cũ hơn',
  pagerNewer: 'Mới hơn ›',
  pagerRange: '{from}–{to} trên {total}',
  pending: 'đang lưu…',
  held: 'chờ đủ quorum',
  added: 'Đã thêm “{title}”.',
  addedMany: (n) => `Đã thêm ${n} công việc.`,
  completedTask: 'Đã hoàn thành “{title}”.',
  reopenedTask: 'Đã mở lại “{title}”.',
  deletedTask: 'Đã xóa “{title}”.',
  renamedTask: 'Đã đổi tên thành “{title}”.',
  clearedCompleted: 'Đã xóa các việc đã hoàn thành.',
  deletedAll: 'Đã xóa tất cả công việc.',
  markedAll: 'Đã đánh dấu tất cả công việc.',
  emptyRefused: 'Hãy nhập nội dung công việc trước.',
  readOnlyNotSent: 'Chỉ đọc: chưa gửi. Nội dung bạn gõ vẫn được giữ.',
  writeFailed: 'Chưa lưu được: {message}',
  switchedNode: 'Mất liên lạc với {from}; đã chuyển sang {to}.',
  clusterHeading: 'Cluster',
  nodesLabel: 'Các node',
  summary: (p) => `Leader ${p.leader} · nhiệm kỳ ${p.term} · ${nodesUpVi(p)}`,
  summaryNoLeader: (p) => `Chưa có leader — đang bầu chọn · ${nodesUpVi(p)}`,
  summaryNoQuorum: (p) => `Không có leader — không đủ node để bầu · ${nodesUpVi(p)}`,
  summaryLeaderless: (p) => `Hiện chưa có leader · ${nodesUpVi(p)}`,
  role_leader: 'Leader',
  role_follower: 'Follower',
  role_candidate: 'Ứng cử viên',
  role_pre_candidate: 'Tiền ứng cử',
  role_down: 'Ngừng hoạt động',
  role_unknown: 'Không rõ',
  term: 'nhiệm kỳ {term}',
  reachable: 'liên lạc được',
  unreachable: 'mất liên lạc',
  contact: 'liên lạc {ms} trước',
  contactNone: 'chưa liên lạc',
  commit: 'commit',
  applied: 'áp dụng',
  lag: 'độ trễ',
  lagValue: (n) => (n == null ? '—' : `${n} mục`),
  thisPage: 'trang này',
  writePathHeading: 'Lần ghi gần nhất',
  writePathNone: 'Trang này chưa ghi gì.',
  writeReceived: 'nhận bởi',
  writeForwarded: 'chuyển tới leader',
  writeLed: 'leader',
  writeCommitted: 'áp dụng ở chỉ mục {index} · {ms} ms',
  writeReplayed: 'gửi lại: trả lời lại kết quả cũ, không ghi hai lần',
  writeRetries: (n) => `gửi ${n + 1} lần qua một lần chuyển node`,
  timelineHeading: 'Dòng thời gian',
  tl_start: 'Trang kết nối tới {node}; {leader} là leader ở nhiệm kỳ {term}.',
  tl_startNoLeader: 'Trang kết nối tới {node}; chưa có leader.',
  tl_leader: '{node} trở thành leader (nhiệm kỳ {term}).',
  tl_leaderLost: 'Mất leader {node}; các node còn lại bầu leader mới.',
  tl_election: '{node} bắt đầu bầu chọn cho nhiệm kỳ {term}.',
  tl_down: '{node} ngừng hoạt động.',
  tl_up: '{node} đã hoạt động trở lại.',
  tl_lost: 'Trang mất liên lạc với {node}.',
  tl_switched: 'Trang chuyển sang {to} sau {ms}.',
  tl_offline: 'Không node nào trả lời trang này.',
  tl_readOnly: 'Cluster chỉ đọc: liên lạc được {reachable}/{voters} node; cần {needed}.',
  tl_writable: 'Đủ quorum trở lại: có thể ghi.',
  caption: (p) =>
    'Leader sắp xếp mọi lệnh ghi và sao chép sang các follower; một lệnh ghi được chấp nhận khi ' +
    `${p.needed == null ? 'đa số node' : `${p.needed}/${p.voters} node`} đã lưu nó. ` +
    'Nếu leader dừng, các node còn lại nhận ra sau khoảng nửa giây và bầu leader mới; trang này tự chuyển sang một node còn sống ' +
    'và gửi lại những gì chưa được trả lời, không bị trùng lặp. ' +
    `${p.needed == null ? 'Khi không đủ đa số node hoạt động' : `Khi ít hơn ${p.needed} node hoạt động`}, danh sách chỉ đọc.`,
};

const dictionaries = { en, vi };
const STORAGE_KEY = 'todonode.lang';

export const languages = Object.keys(dictionaries);
let current = pickLanguage();

function pickLanguage() {
  let saved = null;
  try {
    saved = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled; the browser's language still applies.
  }
  if (saved && saved in dictionaries) return saved;
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const base = String(tag || '').toLowerCase().split('-')[0];
    if (base in dictionaries) return base;
  }
  return 'en';
}

export const lang = () => current;

export function setLanguage(code) {
  if (!(code in dictionaries)) return;
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Not remembered, still switched.
  }
}

export function t(key, params = {}) {
  const entry = dictionaries[current][key] ?? en[key] ?? key;
  if (typeof entry === 'function') return entry(params.n ?? params, params);
  return entry.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// The static text in index.html: data-i18n (text), data-i18n-placeholder, data-i18n-aria-label.
export function translateStatic(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
}

// "850 ms", "1.2 s", "3 min": durations as people read them.
export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function clock(time) {
  return new Date(time).toLocaleTimeString(current, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}
