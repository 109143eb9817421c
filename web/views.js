// Rendering of everything but the message stream: conversation list, chat header
// (presence, typing), connection status, notices and the screen-reader live region.

import { el, formatListTime, formatLastSeen } from './util.js';

const $ = (id) => document.getElementById(id);

export function convTitle(conv) {
  if (conv.kind === 'direct') return conv.peer || conv.name || 'Direct chat';
  return conv.name || (conv.kind === 'channel' ? 'Unnamed channel' : 'Unnamed group');
}

export function eventText(ev, me) {
  const who = (u) => (u === me ? 'You' : u || 'Someone');
  const whom = (u) => (u === me ? 'you' : u || 'someone');
  switch (ev.kind) {
    case 'created': return `${who(ev.actor)} created ${ev.name ? `“${ev.name}”` : 'the group'}`;
    case 'member_added': return `${who(ev.actor)} added ${whom(ev.user_id)}`;
    case 'member_removed': return `${who(ev.actor)} removed ${whom(ev.user_id)}`;
    case 'member_left': return `${who(ev.user_id || ev.actor)} left`;
    case 'renamed': return `${who(ev.actor)} renamed the group to “${ev.name ?? ''}”`;
    case 'role_changed':
      return ev.role
        ? `${who(ev.actor)} made ${whom(ev.user_id)} ${ev.role === 'admin' ? 'an admin' : 'a member'}`
        : `${who(ev.actor)} changed the role of ${whom(ev.user_id)}`;
    default: return `${who(ev.actor)}: ${ev.kind || 'update'}`;
  }
}

export function previewText(item, me, conv) {
  if (!item) return '';
  if (item.op === 'event') return eventText(item, me);
  let prefix = '';
  if (item.sender === me) prefix = 'You: ';
  else if (conv && conv.kind !== 'direct' && item.sender) prefix = `${item.sender}: `;
  let body = item.content || '';
  if (item.type === 'image') body = `Photo${item.content ? ` · ${item.content}` : ''}`;
  else if (item.type === 'file') body = `File · ${item.content || 'attachment'}`;
  return prefix + body.replace(/\s+/g, ' ').slice(0, 120);
}

function hue(s) {
  let h = 0;
  for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

export function paintAvatar(node, name, online = false) {
  node.textContent = (String(name || '?').match(/[\p{L}\p{N}]/u) || ['?'])[0];
  node.style.background = `hsl(${hue(name || '?')} 55% 52%)`;
  node.classList.toggle('online', !!online);
}

export function typingText(conv, users) {
  if (!users.length) return '';
  if (conv.kind === 'direct') return 'typing…';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}

export function presenceText(p) {
  if (!p || !p.status) return ''; // unknown, for example while we are offline
  if (p.status === 'online') return 'online';
  return formatLastSeen(p.last_seen);
}

// ------------------------------------------------------------ conversation list

const rows = new Map(); // conversation id -> {li, parts}

function buildRow() {
  const avatar = el('span', { class: 'avatar', 'aria-hidden': 'true' });
  const name = el('span', { class: 'conv-name', 'data-testid': 'conversation-name' });
  const time = el('span', { class: 'conv-time', 'data-testid': 'conversation-time' });
  const preview = el('span', { class: 'conv-preview', 'data-testid': 'conversation-preview' });
  const badge = el('span', { class: 'badge', 'data-testid': 'unread-badge', 'aria-hidden': 'true' });
  const button = el('button', { type: 'button', class: 'conv-item', 'data-testid': 'conversation-open' },
    avatar,
    el('span', { class: 'conv-main' },
      el('span', { class: 'conv-top' }, name, time),
      el('span', { class: 'conv-bottom' }, preview, badge)));
  const li = el('li', { 'data-testid': 'conversation-item' }, button);
  return { li, button, avatar, name, time, preview, badge };
}

export function renderConversationList(store, { openId, onOpen }) {
  const ul = $('conversation-list');
  const convs = store.sortedConvs();
  const keep = new Set();
  convs.forEach((conv, i) => {
    keep.add(conv.id);
    let r = rows.get(conv.id);
    if (!r) { r = buildRow(); rows.set(conv.id, r); }
    r.button.onclick = () => onOpen(conv.id);
    const title = convTitle(conv);
    const presence = conv.kind === 'direct' ? store.presence.get(conv.peer) : null;
    const typing = typingText(conv, store.typingUsers(conv));
    const preview = typing || (conv.draft && !conv.lastMessage ? 'New conversation' : previewText(conv.lastMessage, store.me, conv));
    Object.assign(r.li.dataset, { conversationId: conv.id, kind: conv.kind, unread: String(conv.unread), peer: conv.peer || '' });
    r.name.textContent = title;
    r.time.textContent = formatListTime(conv.lastMessage?.ts || (conv.draft ? 0 : conv.lastTs));
    r.preview.textContent = preview;
    r.preview.classList.toggle('typing', !!typing);
    r.badge.textContent = conv.unread > 99 ? '99+' : String(conv.unread);
    r.badge.hidden = conv.unread <= 0;
    paintAvatar(r.avatar, title, presence?.status === 'online');
    r.button.setAttribute('aria-current', conv.id === openId ? 'true' : 'false');
    const unreadLabel = conv.unread > 0 ? `, ${conv.unread} unread` : '';
    r.button.setAttribute('aria-label', `${title}${conv.kind !== 'direct' ? ` (${conv.kind})` : ''}${unreadLabel}. ${preview}`);
    if (ul.children[i] !== r.li) ul.insertBefore(r.li, ul.children[i] || null);
  });
  for (const [id, r] of rows) if (!keep.has(id)) { r.li.remove(); rows.delete(id); }
  $('conv-empty').hidden = convs.length > 0;
}

export function clearConversationList() {
  for (const r of rows.values()) r.li.remove();
  rows.clear();
}

// ------------------------------------------------------------ chat header

export function renderChatHeader(store, conv) {
  $('chat-placeholder').hidden = !!conv;
  $('chat-pane').hidden = !conv;
  if (!conv) return;
  const title = convTitle(conv);
  $('chat-title').textContent = title;
  const presenceEl = $('presence-label');
  const typingEl = $('typing-indicator');
  let sub = '';
  let online = false;
  if (conv.kind === 'direct') {
    const p = store.presence.get(conv.peer);
    sub = conv.draft ? 'New conversation — your first message creates it' : presenceText(p);
    online = p?.status === 'online';
    presenceEl.dataset.status = p?.status || 'unknown';
  } else {
    const n = conv.members ? conv.members.length : conv.memberCount;
    sub = n != null ? `${n} member${n === 1 ? '' : 's'}` : conv.kind;
    presenceEl.dataset.status = 'group';
  }
  presenceEl.textContent = sub;
  const typing = typingText(conv, store.typingUsers(conv));
  typingEl.textContent = typing;
  typingEl.hidden = !typing;
  presenceEl.hidden = !!typing;
  paintAvatar($('chat-avatar'), title, online);
  $('group-info-button').hidden = conv.kind === 'direct' || !!conv.left;
  $('left-notice').hidden = !conv.left;
  $('composer').hidden = !!conv.left;
}

// ------------------------------------------------------------ connection status

let statusTicker = null;

export function renderConnectionStatus(status) {
  const box = $('connection-status');
  const text = $('connection-text');
  const retry = $('reconnect-now');
  clearInterval(statusTicker);
  box.dataset.state = status.state;
  box.dataset.transport = status.transport;
  const lp = status.transport === 'longpoll';
  const paint = () => {
    if (status.state === 'online') text.textContent = lp ? 'Connected (long-poll)' : 'Connected';
    else if (status.state === 'connecting') text.textContent = 'Connecting…';
    else if (status.state === 'reconnecting') {
      const s = status.retryAt ? Math.ceil((status.retryAt - Date.now()) / 1000) : 0;
      text.textContent = s > 0 ? `Reconnecting… (retry in ${s} s)` : 'Reconnecting…';
    } else text.textContent = 'Offline';
  };
  paint();
  retry.hidden = !(status.state === 'reconnecting' && status.retryAt && status.retryAt - Date.now() > 1000);
  if (status.state === 'reconnecting' && status.retryAt) {
    statusTicker = setInterval(() => {
      paint();
      if (Date.now() >= status.retryAt) { retry.hidden = true; clearInterval(statusTicker); }
    }, 1000);
  }
}

// ------------------------------------------------------------ notices & live region

export function showNotice(message, { kind = 'error', timeoutMs = kind === 'error' ? 0 : 6000 } = {}) {
  const box = $('notices');
  for (const n of box.children) if (n.dataset.message === message) n.remove(); // no duplicates
  const node = el('div', { class: `notice ${kind}`, 'data-testid': 'notice', 'data-kind': kind, 'data-message': message },
    el('p', { text: message }),
    el('button', { type: 'button', 'aria-label': 'Dismiss', 'data-testid': 'notice-dismiss', text: '×', onclick: () => node.remove() }));
  box.append(node);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (timeoutMs) setTimeout(() => node.remove(), timeoutMs);
  return node;
}

export function clearNotices() {
  $('notices').replaceChildren();
}

export function announce(text) {
  const region = $('live-region');
  region.append(el('p', { text }));
  while (region.children.length > 5) region.firstElementChild.remove();
}
