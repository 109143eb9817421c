// In-memory state: conversations, their messages/events (deduplicated by message_id and
// seq, ordered by seq), receipts watermarks, presence and typing. Emits `change` events
// ({detail: {what, convId}}) that the views coalesce into one render per frame.

const TYPING_TTL_MS = 6000;

export function normalizeMembers(m) {
  if (!Array.isArray(m)) return null;
  return m.map((x) => (typeof x === 'string' ? x : x && x.user_id)).filter(Boolean);
}

function itemKey(f, sender) {
  if (f.op === 'event') return `e:${f.seq}`;
  if (f.client_msg_id && sender) return `c:${sender}:${f.client_msg_id}`;
  return `m:${f.message_id ?? f.seq}`;
}

export class Store extends EventTarget {
  constructor() {
    super();
    this.reset(null);
  }

  reset(me) {
    this.me = me;
    this.convs = new Map();
    this.presence = new Map();
    this.order = 0;
    /** set by the app: is this conversation open and visible right now? */
    this.isReading = () => false;
    clearTimeout(this.typingTimer);
  }

  emit(what, convId = null) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, convId } }));
  }

  _newConv(id) {
    return {
      id, kind: 'direct', name: '', members: null, memberCount: null, peer: null,
      lastSeq: 0, readSeq: 0, unread: 0, lastMessage: null, lastTs: 0,
      peerDeliveredSeq: 0, peerReadSeq: 0, draft: false, left: false, listed: false,
      items: new Map(), bySeq: new Map(), byMid: new Map(), sorted: null,
      historyFloor: null, hasMore: true, receipts: new Map(), typing: new Map(),
      sentDelivered: 0, sentRead: 0, maxSeenSeq: 0,
    };
  }

  ensureConv(id) {
    let c = this.convs.get(id);
    if (!c) { c = this._newConv(id); this.convs.set(id, c); }
    return c;
  }

  /** Merge the `GET /v1/conversations` list (server values win unless we are ahead). */
  mergeConversations(list) {
    const seen = new Set();
    for (const e of list || []) {
      if (!e || !e.conversation_id) continue;
      const c = this.ensureConv(e.conversation_id);
      seen.add(c.id);
      c.listed = true;
      c.left = false;
      c.kind = e.kind || c.kind;
      if (e.name !== undefined && e.name !== null) c.name = e.name;
      const m = normalizeMembers(e.members);
      if (m) c.members = m;
      if (e.member_count != null) c.memberCount = e.member_count;
      if (c.kind === 'direct') c.peer = e.peer || (c.members && (c.members.find((u) => u !== this.me) || c.members[0])) || c.peer;
      const serverLast = e.last_seq || 0;
      c.readSeq = Math.max(c.readSeq, e.read_seq || 0);
      if (serverLast >= c.lastSeq) {
        c.lastSeq = serverLast;
        // Our read receipt may not be stored yet: what we have read is not unread.
        c.unread = c.readSeq >= serverLast ? 0 : e.unread_count || 0;
      }
      c.sentRead = Math.max(c.sentRead, e.read_seq || 0);
      c.peerDeliveredSeq = Math.max(c.peerDeliveredSeq, e.peer_delivered_seq || 0, e.peer_read_seq || 0);
      c.peerReadSeq = Math.max(c.peerReadSeq, e.peer_read_seq || 0);
      const lm = e.last_message;
      if (lm && (!c.lastMessage || c.lastMessage.pending || (lm.seq || 0) >= (c.lastMessage.seq || 0))) {
        c.lastMessage = lm;
        c.lastTs = Math.max(c.lastTs, lm.ts || 0);
      }
    }
    for (const c of this.convs.values()) if (c.listed && !seen.has(c.id)) c.left = true;
    this.emit('convs');
  }

  findDirect(peer) {
    for (const c of this.convs.values()) if (c.kind === 'direct' && !c.draft && c.peer === peer) return c;
    return null;
  }

  /** A not-yet-existing 1:1 conversation; the first `send` with `to` creates it. */
  openDraft(peer) {
    const existing = this.findDirect(peer);
    if (existing) return existing;
    const c = this.ensureConv(`draft:${peer}`);
    Object.assign(c, { draft: true, kind: 'direct', peer, members: [this.me, peer], hasMore: false, historyFloor: 0 });
    if (!c.lastTs) c.lastTs = Date.now();
    this.emit('convs', c.id);
    return c;
  }

  addPending(conv, fields) {
    const item = {
      op: 'message', key: `c:${this.me}:${fields.client_msg_id}`, sender: this.me, ts: Date.now(),
      seq: null, message_id: null, pending: true, failed: false, order: ++this.order, ...fields,
    };
    conv.items.set(item.key, item);
    conv.sorted = null;
    conv.lastMessage = item;
    conv.lastTs = item.ts;
    this.emit('items', conv.id);
    return item;
  }

  findPending(cid) {
    const key = `c:${this.me}:${cid}`;
    for (const c of this.convs.values()) if (c.items.has(key)) return { conv: c, item: c.items.get(key) };
    return null;
  }

  setFailed(cid, failed, error = '') {
    const p = this.findPending(cid);
    if (!p || !p.item.pending) return;
    p.item.failed = failed;
    p.item.error = error;
    this.emit('items', p.conv.id);
  }

  /** Apply an `ack`; moves a draft's messages into the real conversation. Returns the conv. */
  applyAck(ack) {
    const key = `c:${this.me}:${ack.client_msg_id}`;
    const conv = this.ensureConv(ack.conversation_id);
    let src = null;
    for (const c of this.convs.values()) if (c.draft && c.items.has(key)) src = c;
    if (src) {
      for (const [k, it] of src.items) if (!conv.items.has(k)) conv.items.set(k, it);
      if (!conv.listed) Object.assign(conv, { kind: 'direct', peer: src.peer, members: conv.members || src.members });
      if (conv.historyFloor === null && !conv.listed) { conv.historyFloor = 0; conv.hasMore = false; }
      this.convs.delete(src.id);
      this.emit('migrated', src.id);
    }
    const it = conv.items.get(key);
    if (it && it.pending) {
      Object.assign(it, { pending: false, failed: false, seq: ack.seq, message_id: ack.message_id, ts: ack.ts || it.ts });
      this._index(conv, it);
      this._bumpLast(conv, it);
    }
    conv.sorted = null;
    this.emit('items', conv.id);
    return conv;
  }

  _index(conv, it) {
    if (it.seq != null) conv.bySeq.set(it.seq, it.key);
    if (it.message_id) conv.byMid.set(String(it.message_id), it.key);
    if (it.seq > conv.maxSeenSeq) conv.maxSeenSeq = it.seq;
  }

  _bumpLast(conv, it) {
    if (it.seq > conv.lastSeq || (it.seq === conv.lastSeq && !conv.lastMessage)) {
      conv.lastSeq = it.seq;
      conv.lastMessage = it;
      conv.lastTs = Math.max(conv.lastTs, it.ts || Date.now());
    }
  }

  /**
   * Add `message`/`event` frames to a conversation. Returns the items that were new.
   * `opts.history` = {limit} when the frames are a history page (to track "load older").
   */
  addItems(convId, frames, opts = {}) {
    const conv = this.ensureConv(convId);
    const added = [];
    let minSeq = Infinity;
    for (const f of frames) {
      if (!f || f.seq == null) continue;
      if (f.seq < minSeq) minSeq = f.seq;
      const it = this._upsert(conv, f);
      if (it) added.push(it);
    }
    if (opts.history) {
      if (minSeq !== Infinity) conv.historyFloor = Math.min(conv.historyFloor ?? Infinity, minSeq);
      else if (conv.historyFloor === null) conv.historyFloor = 0;
      if (frames.length < opts.history.limit || minSeq <= 1) conv.hasMore = false;
    }
    if (added.length || opts.history) this.emit('items', conv.id);
    return { conv, added };
  }

  _upsert(conv, f) {
    const isEvent = f.op === 'event';
    const sender = f.sender;
    const key = conv.bySeq.get(f.seq) || (f.message_id && conv.byMid.get(String(f.message_id))) || itemKey(f, sender);
    const existing = conv.items.get(key);
    if (existing && !existing.pending) return null; // duplicate
    const item = Object.assign(existing || { order: ++this.order }, f, { key, op: isEvent ? 'event' : 'message', pending: false, failed: false });
    conv.items.set(key, item);
    conv.sorted = null;
    this._index(conv, item);
    const newer = f.seq > conv.lastSeq;
    if (newer && !isEvent && !existing && sender !== this.me && f.seq > conv.readSeq && !this.isReading(conv.id)) conv.unread++;
    if (newer && isEvent) this._applyEvent(conv, f);
    this._bumpLast(conv, item);
    if (!isEvent && sender) conv.typing.delete(sender);
    if (!isEvent && conv.kind === 'direct' && !conv.peer && sender && sender !== this.me) conv.peer = sender;
    return existing ? null : item;
  }

  _applyEvent(conv, f) {
    const members = conv.members ? new Set(conv.members) : null;
    const who = f.user_id || f.actor;
    switch (f.kind) {
      case 'created': if (f.name) conv.name = f.name; if (!conv.listed && conv.kind === 'direct') conv.kind = 'group'; break;
      case 'renamed': if (f.name !== undefined) conv.name = f.name; break;
      case 'member_added':
        members?.add(f.user_id);
        if (f.user_id === this.me) conv.left = false;
        break;
      case 'member_removed':
      case 'member_left':
        members?.delete(who);
        if (who === this.me) conv.left = true;
        break;
      default: break;
    }
    if (members) conv.members = [...members];
    if (conv.memberCount != null && members) conv.memberCount = members.size;
  }

  applyReceipt(f) {
    const conv = this.convs.get(f.conversation_id);
    if (!conv) return;
    const seq = f.up_to_seq || 0;
    if (f.user_id === this.me) { // my other session read it
      if (f.kind === 'read' && seq > conv.readSeq) {
        conv.readSeq = seq;
        conv.sentRead = Math.max(conv.sentRead, seq);
        if (seq >= conv.lastSeq) conv.unread = 0;
        else conv.unread = Math.min(conv.unread, this.sortedItems(conv).filter((i) => i.op === 'message' && i.seq > seq && i.sender !== this.me).length);
        this.emit('convs', conv.id);
      }
      return;
    }
    const r = conv.receipts.get(f.user_id) || { delivered: 0, read: 0 };
    if (f.kind === 'read') r.read = Math.max(r.read, seq);
    r.delivered = Math.max(r.delivered, seq);
    conv.receipts.set(f.user_id, r);
    if (conv.kind === 'direct') {
      conv.peerDeliveredSeq = Math.max(conv.peerDeliveredSeq, r.delivered);
      conv.peerReadSeq = Math.max(conv.peerReadSeq, r.read);
    }
    this.emit('receipts', conv.id);
  }

  /** 'pending' | 'failed' | 'sent' | 'delivered' | 'read' for one of my messages. */
  statusOf(conv, it) {
    if (it.failed) return 'failed';
    if (it.pending || it.seq == null) return 'pending';
    if (conv.kind === 'direct') {
      if (it.seq <= conv.peerReadSeq) return 'read';
      return it.seq <= conv.peerDeliveredSeq ? 'delivered' : 'sent';
    }
    if (conv.kind === 'channel') return 'sent';
    const others = (conv.members || []).filter((u) => u !== this.me);
    const recs = others.length ? others.map((u) => conv.receipts.get(u) || { delivered: 0, read: 0 }) : [...conv.receipts.values()];
    if (!recs.length) return 'sent';
    if (recs.every((r) => r.read >= it.seq)) return 'read';
    return recs.every((r) => r.delivered >= it.seq) ? 'delivered' : 'sent';
  }

  applyPresence(f) {
    if (!f || !f.user_id) return;
    const prev = this.presence.get(f.user_id) || {};
    this.presence.set(f.user_id, { status: f.status || prev.status, last_seen: f.last_seen || prev.last_seen });
    this.emit('presence');
  }

  /** While we are disconnected nobody's status is known; last_seen stays. */
  forgetPresenceStatus() {
    for (const p of this.presence.values()) p.status = null;
    this.emit('presence');
  }

  applyTyping(f) {
    if (f.user_id === this.me) return;
    const conv = this.convs.get(f.conversation_id);
    if (!conv) return;
    if (f.state === 'start') conv.typing.set(f.user_id, Date.now() + TYPING_TTL_MS);
    else conv.typing.delete(f.user_id);
    this._scheduleTypingSweep();
    this.emit('typing', conv.id);
  }

  typingUsers(conv) {
    const now = Date.now();
    return [...conv.typing].filter(([, exp]) => exp > now).map(([u]) => u);
  }

  _scheduleTypingSweep() {
    clearTimeout(this.typingTimer);
    let next = Infinity;
    for (const c of this.convs.values()) for (const exp of c.typing.values()) next = Math.min(next, exp);
    if (next === Infinity) return;
    this.typingTimer = setTimeout(() => {
      const now = Date.now();
      for (const c of this.convs.values()) {
        for (const [u, exp] of c.typing) if (exp <= now) { c.typing.delete(u); this.emit('typing', c.id); }
      }
      this._scheduleTypingSweep();
    }, Math.max(0, next - Date.now()) + 20);
  }

  /** Acked items by seq, then pending ones in the order they were written. */
  sortedItems(conv) {
    if (!conv.sorted) {
      conv.sorted = [...conv.items.values()].sort((a, b) => {
        const as = a.seq ?? Infinity;
        const bs = b.seq ?? Infinity;
        return as !== bs ? as - bs : a.order - b.order;
      });
    }
    return conv.sorted;
  }

  sortedConvs() {
    return [...this.convs.values()].sort((a, b) => (b.lastTs || 0) - (a.lastTs || 0) || a.id.localeCompare(b.id));
  }

  totalUnread() {
    let n = 0;
    for (const c of this.convs.values()) n += c.unread;
    return n;
  }

  directPeers() {
    const s = new Set();
    for (const c of this.convs.values()) if (c.kind === 'direct' && c.peer && !c.draft) s.add(c.peer);
    return [...s];
  }
}
