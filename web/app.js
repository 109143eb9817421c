// Entry point: session (log in / register / log out), wiring of DOM events to the chat
// controller, and a coalesced render of the store after every change.

import { createApi } from './api.js';
import { Connection } from './connection.js';
import { Store } from './store.js';
import { ChatController } from './chat.js';
import { MessagesView } from './messages-view.js';
import { setupGroups } from './groups.js';
import {
  renderConversationList, clearConversationList, renderChatHeader, renderConnectionStatus,
  showNotice, clearNotices, paintAvatar,
} from './views.js';
import { foldUserId, USER_ID_RE } from './util.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'parley.token';
const SESSION_KEY = 'parley.session';
const params = new URLSearchParams(location.search);
const transport = ['longpoll', 'websocket'].includes(params.get('transport')) ? params.get('transport') : 'auto';
const narrow = window.matchMedia('(max-width: 719px)');

const store = new Store();
let session = null; // {token, user_id, expires_at, display_name}
let chat = null;
let conn = null;

const api = createApi({
  getToken: () => session?.token || null,
  onUnauthorized: () => endSession('Your session has ended. Please log in again.'),
});
const messagesView = new MessagesView({
  api,
  onRetry: (item) => chat?.retry(item),
  onLoadOlder: () => chat?.loadOlder(),
});
const groups = setupGroups({
  api,
  store,
  chat: { loadConversations: () => chat?.loadConversations() },
  getMe: () => session?.user_id,
  openConversation: (id) => openConversation(id),
});

// ------------------------------------------------------------ rendering

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  const run = () => { if (renderQueued) render(); };
  requestAnimationFrame(run);
  setTimeout(run, 100); // rAF is paused in background tabs
}

function render() {
  renderQueued = false;
  if (!session || !chat) return;
  renderConversationList(store, { openId: chat.openId, onOpen: openConversation });
  const conv = chat.openConv();
  renderChatHeader(store, conv);
  if (conv) {
    messagesView.render(conv, store.sortedItems(conv), {
      me: store.me, statusOf: (it) => store.statusOf(conv, it), loadingOlder: !!conv.loading,
    });
  } else {
    messagesView.clear();
  }
  const unread = store.totalUnread();
  document.title = unread ? `(${unread}) Parley` : 'Parley';
}
store.addEventListener('change', scheduleRender);

function chatVisible() {
  return document.visibilityState === 'visible' && (!narrow.matches || $('main-view').dataset.pane === 'chat');
}

// ------------------------------------------------------------ session

function saveSession() {
  localStorage.setItem(TOKEN_KEY, session.token);
  const { user_id, expires_at, display_name } = session;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ user_id, expires_at, display_name }));
}

function loadSession() {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  let meta = {};
  try { meta = JSON.parse(localStorage.getItem(SESSION_KEY) || '{}'); } catch { /* ignore */ }
  if (!meta.user_id || (meta.expires_at && meta.expires_at < Date.now())) return null;
  return { token, ...meta };
}

function startSession() {
  store.reset(session.user_id);
  chat = new ChatController({
    store,
    api,
    me: session.user_id,
    isVisible: chatVisible,
    onChange: scheduleRender,
    onOpenChanged: scheduleRender,
    onGroupChanged: (id) => groups.changed(id),
  });
  conn = new Connection({
    api,
    getToken: () => session?.token,
    userId: session.user_id,
    transport,
    onFrame: (f, meta) => chat?.onFrame(f, meta),
    onStatus: (status) => {
      renderConnectionStatus(status);
      if (status.state !== 'online') store.forgetPresenceStatus();
    },
    onReady: (info) => chat?.onReady(info),
  });
  chat.conn = conn;
  $('auth-view').hidden = true;
  $('main-view').hidden = false;
  $('main-view').dataset.pane = 'list';
  const me = $('me-name');
  me.textContent = session.display_name ? `${session.display_name} (${session.user_id})` : session.user_id;
  me.dataset.userId = session.user_id;
  paintAvatar($('me-avatar'), session.display_name || session.user_id);
  chat.loadConversations();
  conn.start();
  scheduleRender();
  $('new-chat-button').focus(); // the submit button just disappeared: keep keyboard users in the app
}

function endSession(message, { revoke = false } = {}) {
  if (!session) return;
  const userId = session.user_id;
  if (revoke) api.logout().catch(() => {}); // reads the token synchronously, before it is cleared
  session = null;
  conn?.stop();
  chat?.dispose();
  conn = null;
  chat = null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(SESSION_KEY);
  if (revoke) { // explicit log out: leave nothing of this user behind
    localStorage.removeItem(`parley.cursor.${userId}`);
    localStorage.removeItem(`parley.outbox.${userId}`);
  }
  groups.closeAll();
  store.reset(null);
  clearConversationList();
  messagesView.clear();
  messagesView.revokeMedia();
  clearNotices();
  document.title = 'Parley';
  $('main-view').hidden = true;
  $('auth-view').hidden = false;
  setAuthError(message || '');
  $('auth-user').value = userId;
  $('auth-password').value = '';
  $('auth-password').focus();
}

// ------------------------------------------------------------ auth form

let authMode = 'login';
function setAuthMode(mode) {
  authMode = mode;
  $('auth-form').dataset.mode = mode;
  for (const [id, m] of [['tab-login', 'login'], ['tab-register', 'register']]) {
    $(id).setAttribute('aria-selected', String(mode === m));
    $(id).tabIndex = mode === m ? 0 : -1; // one tab stop for the tab list; arrows move within it
  }
  $('display-name-row').hidden = mode !== 'register';
  $('auth-submit').textContent = mode === 'login' ? 'Log in' : 'Create account';
  $('auth-password').setAttribute('autocomplete', mode === 'login' ? 'current-password' : 'new-password');
  setAuthError('');
}

function setAuthError(text) {
  $('auth-error').textContent = text;
  $('auth-error').hidden = !text;
}

$('tab-login').addEventListener('click', () => setAuthMode('login'));
$('tab-register').addEventListener('click', () => setAuthMode('register'));
$('tab-login').parentElement.addEventListener('keydown', (e) => {
  if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
  e.preventDefault();
  const next = authMode === 'login' ? 'register' : 'login';
  const mode = e.key === 'Home' ? 'login' : e.key === 'End' ? 'register' : next;
  setAuthMode(mode);
  $(mode === 'login' ? 'tab-login' : 'tab-register').focus();
});

$('auth-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const userId = foldUserId($('auth-user').value);
  const password = $('auth-password').value;
  const displayName = $('auth-display-name').value.trim();
  if (!USER_ID_RE.test(userId)) { setAuthError('User id: 3–32 characters of a–z, 0–9, _ . -'); $('auth-user').focus(); return; }
  const pwBytes = new TextEncoder().encode(password).length;
  if (pwBytes < 8 || pwBytes > 1024) { setAuthError('Password: at least 8 characters.'); $('auth-password').focus(); return; }
  setAuthError('');
  const submit = $('auth-submit');
  submit.disabled = true;
  try {
    if (authMode === 'register') await api.register(userId, password, displayName || undefined);
    const r = await api.login(userId, password);
    const uid = r.user_id || userId;
    if (authMode === 'register' && displayName) localStorage.setItem(`parley.display_name.${uid}`, displayName);
    session = {
      token: r.token,
      user_id: uid,
      expires_at: r.expires_at,
      display_name: localStorage.getItem(`parley.display_name.${uid}`) || undefined,
    };
    saveSession();
    $('auth-password').value = '';
    startSession();
  } catch (err) {
    const byCode = {
      unauthorized: 'Wrong user id or password.',
      conflict: 'That user id is already taken.',
      network: 'Cannot reach the server. Check your connection.',
      rate_limited: 'Too many attempts. Please wait a moment.',
    };
    setAuthError(byCode[err.code] || err.message || 'Something went wrong.');
  } finally {
    submit.disabled = false;
  }
});

// ------------------------------------------------------------ main view wiring

function openConversation(id) {
  if (!chat) return;
  // phones: make the browser's back button return to the list
  if (narrow.matches && $('main-view').dataset.pane !== 'chat') history.pushState({ parleyPane: 'chat' }, '');
  $('main-view').dataset.pane = 'chat';
  chat.open(id);
  $('new-chat-form').hidden = true;
  $('new-chat-button').setAttribute('aria-expanded', 'false');
  render(); // the chat pane must be shown before anything in it can take the focus
  // desktop: straight to the message box; phone: to the title (no keyboard pop-up)
  if (narrow.matches) $('chat-title').focus({ preventScroll: true });
  else $('composer-input').focus({ preventScroll: true });
}

function backToList() {
  const id = chat?.openId;
  $('main-view').dataset.pane = 'list';
  chat?.close();
  render();
  document.querySelector(`[data-conversation-id="${CSS.escape(id || '')}"] button`)?.focus();
}
$('back-button').addEventListener('click', () => {
  if (history.state?.parleyPane === 'chat') history.back(); // popstate does the rest
  else backToList();
});
window.addEventListener('popstate', () => {
  if (session && $('main-view').dataset.pane === 'chat') backToList();
});

$('logout-button').addEventListener('click', () => endSession('', { revoke: true }));
$('reconnect-now').addEventListener('click', () => conn?.reconnectNow());

$('new-chat-button').addEventListener('click', () => {
  const form = $('new-chat-form');
  form.hidden = !form.hidden;
  $('new-chat-button').setAttribute('aria-expanded', String(!form.hidden));
  if (!form.hidden) $('new-chat-user').focus();
});

$('new-chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const peer = foldUserId($('new-chat-user').value);
  if (!USER_ID_RE.test(peer)) { showNotice(`“${peer}” is not a valid user id.`, { kind: 'info' }); return; }
  if (peer === session?.user_id) { showNotice('Pick someone other than yourself.', { kind: 'info' }); return; }
  const conv = store.findDirect(peer) || store.openDraft(peer);
  $('new-chat-user').value = '';
  openConversation(conv.id);
});

$('new-group-button').addEventListener('click', () => groups.openCreate());
$('group-info-button').addEventListener('click', () => { if (chat?.openId) groups.openInfo(chat.openId); });

// composer
const input = $('composer-input');
function autosize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
}
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
input.addEventListener('input', () => { autosize(); chat?.onComposerInput(input.value); });
input.addEventListener('blur', () => chat?.stopTyping());
$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  if (chat?.sendText(input.value)) {
    input.value = '';
    autosize();
  }
  input.focus();
});

$('attach-button').addEventListener('click', () => $('upload-input').click());
$('upload-input').addEventListener('change', async () => {
  const files = [...$('upload-input').files];
  $('upload-input').value = '';
  const status = $('upload-status');
  for (const file of files) {
    status.hidden = false;
    status.textContent = `Uploading ${file.name}…`;
    try {
      await chat?.sendFile(file, (p) => { status.textContent = `Uploading ${file.name}… ${Math.round(p * 100)}%`; });
    } catch (err) {
      showNotice(err.code === 'too_large' ? `“${file.name}” is too large to send.` : `Upload failed: ${err.message}`);
    }
  }
  status.hidden = true;
});

document.addEventListener('visibilitychange', () => { chat?.markReadIfVisible(); scheduleRender(); });
window.addEventListener('focus', () => chat?.markReadIfVisible());
narrow.addEventListener('change', scheduleRender);
setInterval(scheduleRender, 30000); // keeps "last seen … ago" and times fresh
window.addEventListener('storage', (e) => { // logged out in another tab
  if (e.key === TOKEN_KEY && !e.newValue && session) endSession('You logged out in another tab.');
});

// ------------------------------------------------------------ boot

setAuthMode('login');
session = loadSession();
if (session) startSession();
else {
  $('auth-view').hidden = false;
  $('auth-user').focus();
}
