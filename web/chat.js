// Chat logic between the connection, the store and the views: incoming frames, the
// outbox (idempotent resend of unacknowledged messages), receipts, typing, presence,
// history paging and media upload.

import { randomId, debounce } from './util.js';
import { backoffDelay } from './connection.js';
import { showNotice, announce, convTitle, previewText, eventText } from './views.js';

const HISTORY_PAGE = 50;
const RESEND_AFTER_MS = 15000;
const OUTBOX_MAX_AGE_MS = 23 * 3600 * 1000; // stay inside the server's 24 h idempotency window
const TYPING_THROTTLE_MS = 3000;
const PRESENCE_POLL_MS = 30000;
const MAX_TEXT_BYTES = 16 * 1024;
const TRANSIENT = new Set(['rate_limited', 'unavailable', 'internal', 'network', 'timeout', 'disconnected']);

export class ChatController {
  /**
   * @param {object} o
   * @param {import('./store.js').Store} o.store
   * @param {string} o.me
   * @param {() => boolean} o.isVisible is the chat pane visible to the user right now?
   * @param {() => void} o.onChange request a re-render
   * @param {(convId: string|null) => void} o.onOpenChanged
   * @param {(convId: string) => void} o.onGroupChanged
   */
  constructor({ store, api, me, isVisible, onChange, onOpenChanged, onGroupChanged }) {
    Object.assign(this, { store, api, me, isVisible, onChange, onOpenChanged, onGroupChanged });
    this.conn = null;
    this.openId = null;
    this.outbox = new Map(); // client_msg_id -> {body, ts, sentAt, attempts, notBefore}
    this.outboxKey = `parley.outbox.${me}`;
    this.receiptDirty = new Set();
    this.typing = { convId: null, lastStart: 0 };
    this.subscribed = new Set();
    this.refreshConversations = debounce(() => this.loadConversations(), 400);
    store.isReading = (id) => this.isReading(id);
    this.tick = setInterval(() => this.flushOutbox(), 3000);
    this._loadOutbox();
  }

  dispose() {
    clearInterval(this.tick);
    clearInterval(this.presenceTimer);
    clearTimeout(this.receiptTimer);
  }

  openConv() { return this.openId ? this.store.convs.get(this.openId) || null : null; }

  isReading(convId) { return convId === this.openId && this.isVisible(); }

  // ------------------------------------------------------------ incoming

  onFrame(f, meta = { replay: false }) {
    switch (f.op) {
      case 'message':
      case 'event': this._onItem(f, meta); break;
      case 'ack': this._onAck(f); break;
      case 'receipt': this.store.applyReceipt(f); break;
      case 'typing': this.store.applyTyping(f); break;
      case 'presence': this.store.applyPresence(f); break;
      case 'error': this._onError(f); break;
      case 'synced': this._flushReceipts(); this.markReadIfVisible(); break;
      default: break;
    }
  }

  onReady(info) {
    this.subscribed.clear();
    for (const e of this.outbox.values()) e.sentAt = 0; // the old socket may have lost them
    this.flushOutbox();
    this.loadConversations();
    clearInterval(this.presenceTimer);
    if (info.transport === 'longpoll') {
      this.presenceTimer = setInterval(() => this._pollPresence(), PRESENCE_POLL_MS);
    }
    this._ensurePresence();
  }

  _onItem(f, meta) {
    const convId = f.conversation_id;
    if (!convId) return;
    const before = this.store.convs.get(convId);
    const { conv, added } = this.store.addItems(convId, [f]);
    if (!before || !before.listed) this.refreshConversations();
    if (f.op === 'message' && f.sender === this.me && f.client_msg_id) this._outboxDone(f.client_msg_id);
    if (!added.length) return;
    if (f.op === 'event') {
      if (f.user_id === this.me || f.kind === 'created') this.refreshConversations();
      this.onGroupChanged?.(convId);
      if (!meta.replay && conv.id === this.openId) announce(eventText(f, this.me));
      return;
    }
    if (f.sender !== this.me) {
      this._queueReceipts(conv.id);
      if (!meta.replay) {
        const where = conv.kind === 'direct' ? '' : ` in ${convTitle(conv)}`;
        announce(`${f.sender}${where}: ${previewText(f, null, null)}`);
      }
    }
  }

  _onAck(f) {
    if (!f.client_msg_id || !f.conversation_id) return;
    const openBefore = this.openConv();
    const conv = this.store.applyAck(f);
    this._outboxDone(f.client_msg_id);
    if (openBefore && openBefore.draft && !this.store.convs.has(openBefore.id)) {
      this.openId = conv.id; // the draft 1:1 now exists on the server
      this.onOpenChanged(conv.id);
    }
    if (!conv.listed) this.refreshConversations();
  }

  _onError(f) {
    const id = f.id != null ? String(f.id) : '';
    if (id.startsWith('send:')) {
      const cid = id.slice(5);
      const entry = this.outbox.get(cid);
      if (TRANSIENT.has(f.code) && entry) {
        entry.sentAt = 0;
        entry.notBefore = Date.now() + (f.retry_after != null ? f.retry_after * 1000 : 1000 + backoffDelay(entry.attempts + 2));
        if (f.code === 'rate_limited') showNotice('Sending too fast — retrying shortly.', { kind: 'info' });
        return;
      }
      this._outboxDone(cid);
      this.store.setFailed(cid, true, f.code || 'error');
      showNotice(`Message not sent: ${f.message || f.code}`);
      return;
    }
    if (id === 'sync') return; // the connection restarts the sync itself
    showNotice(f.message ? `${f.message}${f.code ? ` (${f.code})` : ''}` : `Server error: ${f.code || 'unknown'}`);
  }

  // ------------------------------------------------------------ receipts

  _queueReceipts(convId) {
    this.receiptDirty.add(convId);
    clearTimeout(this.receiptTimer);
    this.receiptTimer = setTimeout(() => this._flushReceipts(), 250);
  }

  _flushReceipts() {
    if (!this.conn) return;
    for (const id of this.receiptDirty) {
      const conv = this.store.convs.get(id);
      if (!conv || conv.draft) continue;
      const top = conv.maxSeenSeq;
      if (top > conv.sentDelivered && this.conn.sendReceipt(conv.id, 'delivered', top)) conv.sentDelivered = top;
      if (this.isReading(conv.id)) this._sendRead(conv);
    }
    this.receiptDirty.clear();
  }

  _sendRead(conv) {
    const top = conv.maxSeenSeq;
    if (top > conv.sentRead && this.conn?.sendReceipt(conv.id, 'read', top)) conv.sentRead = top;
    if (top > conv.readSeq) conv.readSeq = top;
    if (conv.unread) {
      conv.unread = 0;
      this.store.emit('convs', conv.id);
    }
  }

  markReadIfVisible() {
    const conv = this.openConv();
    if (conv && !conv.draft && this.isReading(conv.id)) this._sendRead(conv);
  }

  // ------------------------------------------------------------ outbox

  _loadOutbox() {
    let saved = [];
    try { saved = JSON.parse(localStorage.getItem(this.outboxKey) || '[]'); } catch { /* ignore */ }
    for (const { body, ts } of saved) {
      if (!body || !body.client_msg_id) continue;
      const conv = body.to ? this.store.openDraft(body.to) : this.store.ensureConv(body.conversation_id);
      const { client_msg_id, type, content, media_id } = body;
      this.store.addPending(conv, { client_msg_id, type, content, media_id, ts });
      if (Date.now() - ts > OUTBOX_MAX_AGE_MS) this.store.setFailed(client_msg_id, true, 'expired');
      else this.outbox.set(client_msg_id, { body, ts, sentAt: 0, attempts: 0, notBefore: 0 });
    }
  }

  _saveOutbox() {
    const list = [...this.outbox.values()].map(({ body, ts }) => ({ body, ts }));
    if (list.length) localStorage.setItem(this.outboxKey, JSON.stringify(list));
    else localStorage.removeItem(this.outboxKey);
  }

  _outboxDone(cid) {
    if (this.outbox.delete(cid)) this._saveOutbox();
  }

  flushOutbox() {
    if (!this.conn || !this.conn.ready) return;
    const now = Date.now();
    for (const [cid, e] of this.outbox) {
      if (e.notBefore > now || (e.sentAt && now - e.sentAt < RESEND_AFTER_MS)) continue;
      if (this.conn.sendMessage(e.body)) { e.sentAt = now; e.attempts++; }
    }
  }

  _send(conv, fields, extra = {}) {
    if (conv.draft && !this.store.convs.has(conv.id)) conv = this.store.findDirect(conv.peer) || this.store.openDraft(conv.peer);
    const cid = randomId('w');
    const body = { client_msg_id: cid, ...fields };
    if (conv.draft) body.to = conv.peer;
    else body.conversation_id = conv.id;
    this.store.addPending(conv, { client_msg_id: cid, ...fields, ...extra });
    this.outbox.set(cid, { body, ts: Date.now(), sentAt: 0, attempts: 0, notBefore: 0 });
    this._saveOutbox();
    this.flushOutbox();
  }

  /** Returns true when the text was queued (the composer may then be cleared). */
  sendText(raw) {
    const conv = this.openConv();
    const text = String(raw || '').trim();
    if (!conv || conv.left || !text) return false;
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
      showNotice('That message is too long (16 KiB at most).');
      return false;
    }
    this.stopTyping();
    this._send(conv, { type: 'text', content: text });
    return true;
  }

  async sendFile(file, onProgress) {
    const conv = this.openConv();
    if (!conv || conv.left) return;
    const res = await this.api.uploadMedia(file, onProgress);
    const type = (res.content_type || file.type || '').startsWith('image/') ? 'image' : 'file';
    // Shown from the local file until reloaded; width/height (from the server) keep the layout steady.
    const local = type === 'image' ? { localUrl: URL.createObjectURL(file), width: res.width, height: res.height } : {};
    this._send(conv, { type, content: file.name || (type === 'image' ? 'image' : 'file'), media_id: res.media_id }, local);
  }

  retry(item) {
    const { client_msg_id: cid, type, content, media_id } = item;
    const p = this.store.findPending(cid);
    if (!p) return;
    const body = { client_msg_id: cid, type, content };
    if (media_id) body.media_id = media_id;
    if (p.conv.draft) body.to = p.conv.peer;
    else body.conversation_id = p.conv.id;
    this.store.setFailed(cid, false);
    this.outbox.set(cid, { body, ts: Date.now(), sentAt: 0, attempts: 0, notBefore: 0 });
    this._saveOutbox();
    this.flushOutbox();
  }

  // ------------------------------------------------------------ typing

  onComposerInput(text) {
    const conv = this.openConv();
    if (!conv || conv.draft || conv.kind === 'channel' || !this.conn) return;
    if (!text.trim()) { this.stopTyping(); return; }
    const now = Date.now();
    if (this.typing.convId !== conv.id || now - this.typing.lastStart >= TYPING_THROTTLE_MS) {
      if (this.typing.convId && this.typing.convId !== conv.id) this.stopTyping();
      if (this.conn.sendTyping(conv.id, 'start')) this.typing = { convId: conv.id, lastStart: now };
    }
  }

  stopTyping() {
    if (this.typing.convId) this.conn?.sendTyping(this.typing.convId, 'stop');
    this.typing = { convId: null, lastStart: 0 };
  }

  // ------------------------------------------------------------ conversations, history, presence

  async loadConversations() {
    try {
      const r = await this.api.conversations();
      this.store.mergeConversations((r && r.conversations) || []);
      this._ensurePresence();
    } catch (e) {
      if (e.status !== 401) showNotice(`Could not load conversations: ${e.message}`, { kind: 'info' });
    }
  }

  async open(convId) {
    if (this.openId !== convId) this.stopTyping();
    this.openId = convId;
    this.onOpenChanged(convId);
    const conv = this.openConv();
    if (!conv) return;
    if (conv.kind === 'direct' && this.conn?.mode === 'longpoll') this._pollPresence();
    if (!conv.draft && conv.historyFloor === null) await this._loadPage(conv, undefined);
    this.markReadIfVisible();
  }

  close() {
    this.stopTyping();
    this.openId = null;
    this.onOpenChanged(null);
  }

  async loadOlder() {
    const conv = this.openConv();
    if (!conv || conv.draft || !conv.hasMore || conv.loading) return;
    await this._loadPage(conv, conv.historyFloor || undefined);
  }

  async _loadPage(conv, beforeSeq) {
    if (conv.loading || !this.conn) return;
    conv.loading = true;
    this.onChange();
    try {
      const msgs = await this.conn.history(conv.id, beforeSeq, HISTORY_PAGE);
      this.store.addItems(conv.id, msgs, { history: { limit: HISTORY_PAGE } });
    } catch (e) {
      showNotice(`Could not load messages: ${e.message || e.code}`, { kind: 'info' });
    } finally {
      conv.loading = false;
      this.onChange();
    }
  }

  _ensurePresence() {
    if (!this.conn) return;
    const peers = this.store.directPeers();
    if (this.conn.mode !== 'ws') { this._pollPresence(); return; }
    const fresh = peers.filter((u) => !this.subscribed.has(u));
    if (fresh.length && this.conn.subscribePresence(fresh)) fresh.forEach((u) => this.subscribed.add(u));
  }

  async _pollPresence() {
    const peers = this.store.directPeers().slice(0, 100);
    if (!peers.length) return;
    try {
      const r = await this.api.presence(peers);
      for (const p of (r && r.users) || []) this.store.applyPresence(p);
    } catch { /* presence is best effort */ }
  }
}
