// Small DOM and formatting helpers shared by the other modules.

export const USER_ID_RE = /^[a-z0-9_.-]{3,32}$/;

/** Normalise a typed user id the way the server does (case-folded, trimmed). */
export function foldUserId(s) {
  return String(s || '').trim().toLowerCase();
}

/**
 * Create an element. `attrs` keys: `class`, `text`, `on<event>` (function),
 * `hidden`/`disabled` (boolean), anything else becomes an attribute
 * (`data-testid`, `aria-label`, ...). `null`/`undefined`/`false` values are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Random id usable as client_msg_id (works outside secure contexts too). */
export function randomId(prefix = 'w') {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return prefix + '-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const pad = (n) => String(n).padStart(2, '0');

export function formatClock(ts) {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function formatDay(ts, now = Date.now()) {
  const d = new Date(ts);
  const today = new Date(now);
  if (sameDay(d, today)) return 'Today';
  const y = new Date(now - 86400000);
  if (sameDay(d, y)) return 'Yesterday';
  const opts = { day: 'numeric', month: 'short' };
  if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(undefined, opts);
}

/** Short time for the conversation list: clock today, day otherwise. */
export function formatListTime(ts, now = Date.now()) {
  if (!ts) return '';
  const day = formatDay(ts, now);
  return day === 'Today' ? formatClock(ts) : day;
}

export function formatLastSeen(ts, now = Date.now()) {
  if (!ts) return 'offline';
  const diff = now - ts;
  if (diff < 60000) return 'last seen just now';
  if (diff < 3600000) return `last seen ${Math.floor(diff / 60000)} min ago`;
  const day = formatDay(ts, now);
  return `last seen ${day === 'Today' ? 'today' : day === 'Yesterday' ? 'yesterday' : day} at ${formatClock(ts)}`;
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Split "alice, bob carol" into folded user ids. */
export function parseUserList(s) {
  return [...new Set(String(s || '').split(/[\s,;]+/).map(foldUserId).filter(Boolean))];
}
