// Real-time transport (SPEC section 4): a WebSocket to /v1/ws authenticated with a first
// `auth` frame, `sync` from the cursor persisted in localStorage on every (re)connect,
// reconnect with exponential backoff and full jitter, heartbeat pings, and a long-poll
// fallback (GET /v1/sync + POST /v1/messages) when WebSockets keep failing to open or
// when the page URL has ?transport=longpoll.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30000;
const WS_FAILURES_BEFORE_FALLBACK = 3;
const AUTH_TIMEOUT_MS = 10000;
const PING_EVERY_MS = 25000;
const DEAD_AFTER_MS = 65000;
const RESYNC_EVERY_MS = 10 * 60000; // advance the stored cursor on long sessions
// After an automatic fallback, try the WebSocket again after 5 s, 10 s, ... then every 2 min:
// a fallback caused by a passing outage (a restart) ends quickly.
const PROBE_WS_FIRST_MS = 5000;
const PROBE_WS_MAX_MS = 120000;
const REQUEST_TIMEOUT_MS = 15000;
const LONGPOLL_TIMEOUT_S = 25;

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS) {
  return Math.floor(Math.random() * Math.min(cap, base * 2 ** Math.min(attempt, 30)));
}

/** A 1013 close may say how long to wait in its reason ("retry after 5", "Retry-After: 5"). */
export function retryAfterFromReason(reason) {
  const m = /retry[-_ ]?after\D{0,3}(\d+)/i.exec(reason || '');
  return m ? Number(m[1]) * 1000 : null;
}

export class Connection {
  /**
   * @param {object} o
   * @param {ReturnType<import('./api.js').createApi>} o.api
   * @param {() => string} o.getToken
   * @param {string} o.userId used to key the persisted cursor
   * @param {'auto'|'longpoll'|'websocket'} [o.transport]
   * @param {(frame: object, meta: {replay: boolean}) => void} o.onFrame
   * @param {(status: object) => void} o.onStatus
   * @param {(info: object) => void} o.onReady called after every (re)connect
   */
  constructor({ api, getToken, userId, transport = 'auto', onFrame, onStatus, onReady }) {
    Object.assign(this, { api, getToken, onFrame, onStatus, onReady, transport });
    this.cursorKey = `parley.cursor.${userId}`;
    this.mode = transport === 'longpoll' ? 'longpoll' : 'ws';
    this.attempt = 0;
    this.wsFailures = 0;
    this.sock = null; // {ws, ready, closed, lastFrameAt, hb}
    this.requests = new Map();
    this.reqSeq = 0;
    this.syncing = false;
    this.liveSinceSync = 0;
    this.lastSyncAt = 0;
    this.pollOk = false;
    this.pollGen = 0;
    this.probeFailures = 0;
    this.everConnected = false;
    this.stopped = true;
    this.status = { state: 'connecting', transport: this.mode };
    this._onOnline = () => this.reconnectNow();
  }

  get cursor() { return localStorage.getItem(this.cursorKey) || undefined; }
  set cursor(v) {
    if (v === undefined || v === null || v === '') localStorage.removeItem(this.cursorKey);
    else localStorage.setItem(this.cursorKey, String(v));
  }

  get ready() { return this.mode === 'ws' ? !!(this.sock && this.sock.ready) : this.pollOk; }

  start() {
    this.stopped = false;
    window.addEventListener('online', this._onOnline);
    if (this.mode === 'longpoll') this._startLongPoll(false);
    else this._connectWs(false);
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    this.pollAbort?.abort();
    this.pollGen++;
    for (const s of [this.sock, this.probe]) if (s) this._kill(s, 1000, 'bye');
    this._failRequests('stopped');
  }

  /** Skip the remaining backoff wait (user clicked "retry now" or the browser came online). */
  reconnectNow() {
    if (this.stopped || !this.retryFn) return;
    clearTimeout(this.retryTimer);
    const fn = this.retryFn;
    this.retryFn = null;
    this.attempt = 0;
    fn();
  }

  _setStatus(state, extra = {}) {
    this.status = { state, transport: this.mode, ...extra };
    this.onStatus?.(this.status);
  }

  _wait(ms, fn) {
    this._setStatus('reconnecting', { retryAt: Date.now() + ms });
    this.retryFn = fn;
    this.retryTimer = setTimeout(() => { this.retryFn = null; fn(); }, ms);
  }

  // ---------------------------------------------------------------- WebSocket

  _wsUrl() {
    const u = new URL('/v1/ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }

  _connectWs(isProbe) {
    if (this.stopped) return;
    if (!isProbe) this._setStatus(this.everConnected ? 'reconnecting' : 'connecting');
    const s = { ws: null, ready: false, closed: false, probe: isProbe, lastFrameAt: Date.now() };
    if (isProbe) this.probe = s; else this.sock = s;
    try {
      s.ws = new WebSocket(this._wsUrl());
    } catch {
      queueMicrotask(() => this._onClose(s, { code: 1006, reason: 'cannot open' }));
      return;
    }
    s.authTimer = setTimeout(() => { if (!s.ready) this._kill(s, 4000, 'auth timeout'); }, AUTH_TIMEOUT_MS);
    s.ws.onopen = () => s.ws.send(JSON.stringify({ op: 'auth', token: this.getToken() }));
    s.ws.onmessage = (e) => this._onMessage(s, e.data);
    s.ws.onclose = (e) => this._onClose(s, e);
    s.ws.onerror = () => { /* a close event follows */ };
  }

  _onMessage(s, data) {
    if (s.closed) return;
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (!f || typeof f !== 'object') return;
    s.lastFrameAt = Date.now();
    if (!s.ready) {
      if (f.op === 'ready') this._onReady(s, f);
      else if (f.op === 'error' && f.code === 'unauthorized') {
        this._kill(s, 1000, 'unauthorized');
        this.api.conversations().catch(() => {}); // a 401 there logs the user out
      }
      return;
    }
    if (f.op === 'pong') return;
    if (f.op === 'synced') {
      if (f.cursor !== undefined) this.cursor = f.cursor;
      if (f.more) { this._sync(); return; } // another page waits; live frames are held until the last
      this.syncing = false;
      this.liveSinceSync = 0;
    } else if (f.op === 'error' && f.id === 'sync') {
      // A cursor the server no longer understands: start over from the beginning.
      this.syncing = false;
      if (this.cursor && (f.code === 'bad_request' || f.code === 'not_found')) { this.cursor = null; this._sync(); }
    } else if (!this.syncing && (f.op === 'message' || f.op === 'event' || f.op === 'receipt')) {
      this.liveSinceSync++;
    }
    const req = f.id !== undefined && this.requests.get(String(f.id));
    if (req) {
      this.requests.delete(String(f.id));
      clearTimeout(req.timer);
      if (f.op === 'error') req.reject(Object.assign(new Error(f.message || f.code), { code: f.code }));
      else req.resolve(f);
      if (f.op === 'result') return; // request/response only, not a stream frame
    }
    this.onFrame(f, { replay: this.syncing });
  }

  _onReady(s, f) {
    clearTimeout(s.authTimer);
    s.ready = true;
    if (s.probe) {
      // WebSockets work again: leave long-poll.
      s.probe = false;
      this.probe = null;
      this.pollGen++;
      this.pollAbort?.abort();
      clearTimeout(this.probeTimer);
      this.sock = s;
    }
    this.mode = 'ws';
    this.attempt = 0;
    this.wsFailures = 0;
    this.everConnected = true;
    this._setStatus('online', { session: f.session_id, node: f.node });
    s.hb = setInterval(() => this._heartbeat(s), PING_EVERY_MS);
    this._sync();
    this.onReady?.({ transport: 'ws', ...f });
  }

  _sync() {
    this.syncing = true;
    this.lastSyncAt = Date.now();
    const cursor = this.cursor;
    this.sendFrame(cursor ? { op: 'sync', id: 'sync', cursor } : { op: 'sync', id: 'sync' });
  }

  _heartbeat(s) {
    if (Date.now() - s.lastFrameAt > DEAD_AFTER_MS) { this._kill(s, 4001, 'heartbeat timeout'); return; }
    if (!this.syncing && this.liveSinceSync > 0 && Date.now() - this.lastSyncAt > RESYNC_EVERY_MS) this._sync();
    else this.sendFrame({ op: 'ping' });
  }

  _kill(s, code, reason) {
    try { s.ws?.close(code, reason); } catch { /* already closed */ }
    this._onClose(s, { code, reason });
  }

  _onClose(s, e) {
    if (s.closed) return;
    s.closed = true;
    clearTimeout(s.authTimer);
    clearInterval(s.hb);
    if (s.ws) s.ws.onopen = s.ws.onmessage = s.ws.onclose = null;
    if (this.stopped) return;
    if (s.probe) { // failed attempt to go back to WebSocket; stay on long-poll
      this.probe = null;
      this._scheduleProbe();
      return;
    }
    if (this.sock !== s) return;
    this.sock = null;
    this.syncing = false;
    this._failRequests('disconnected');
    if (s.ready || this.transport !== 'auto') this._scheduleWsRetry(e);
    else this._afterWsFailure(e);
  }

  /**
   * A WebSocket that never reached `ready` while plain HTTP reaches the server is being
   * blocked (proxy, firewall): after a few of those, fall back to long-poll. One that fails
   * while the server is down (a restart) is not counted: the client keeps retrying it.
   */
  async _afterWsFailure(e) {
    if (await this._httpReachable()) this.wsFailures++;
    if (this.stopped || this.sock || this.mode !== 'ws') return;
    if (this.wsFailures >= WS_FAILURES_BEFORE_FALLBACK) this._startLongPoll(true);
    else this._scheduleWsRetry(e);
  }

  _scheduleWsRetry(e) {
    let delay = backoffDelay(this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    if (e.code === 1013) {
      // Server overloaded: wait what it asked for, or back off harder than usual.
      this.attempt = Math.max(this.attempt, 4);
      delay = retryAfterFromReason(e.reason) ?? Math.max(2000, backoffDelay(this.attempt));
    }
    this._wait(delay, () => this._connectWs(false));
  }

  async _httpReachable() {
    try {
      const res = await fetch('/healthz', { cache: 'no-store', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      return res.ok;
    } catch {
      return false;
    }
  }

  _failRequests(why) {
    for (const [, r] of this.requests) { clearTimeout(r.timer); r.reject(Object.assign(new Error(why), { code: why })); }
    this.requests.clear();
  }

  // ---------------------------------------------------------------- long-poll

  _startLongPoll(automatic) {
    this.mode = 'longpoll';
    this.attempt = 0;
    this.pollOk = false;
    this._setStatus(this.everConnected ? 'reconnecting' : 'connecting', { fallback: automatic });
    this._pollLoop();
    this.probeFailures = 0;
    if (automatic) this._scheduleProbe();
  }

  _scheduleProbe() {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      if (!this.stopped && this.mode === 'longpoll' && !this.probe) this._connectWs(true);
    }, Math.min(PROBE_WS_MAX_MS, PROBE_WS_FIRST_MS * 2 ** this.probeFailures++));
  }

  async _pollLoop() {
    const gen = ++this.pollGen;
    let first = true;
    let timeout = 0; // first request returns at once with the backlog (or nothing)
    while (!this.stopped && gen === this.pollGen) {
      const ctrl = new AbortController();
      this.pollAbort = ctrl;
      try {
        const r = await this.api.sync(this.cursor, timeout, ctrl.signal);
        if (gen !== this.pollGen) return;
        for (const f of (r && r.events) || []) this.onFrame(f, { replay: first });
        if (r && r.cursor !== undefined && r.cursor !== null) this.cursor = r.cursor;
        this.attempt = 0;
        timeout = LONGPOLL_TIMEOUT_S;
        if (!this.pollOk) {
          this.pollOk = true;
          this.everConnected = true;
          this._setStatus('online');
          this.onReady?.({ transport: 'longpoll' });
        }
        first = false;
      } catch (e) {
        if (e.name === 'AbortError' || this.stopped || gen !== this.pollGen) return;
        if (e.status === 401) return; // the api layer logs the user out
        if (e.status === 400 && timeout === 0) { timeout = LONGPOLL_TIMEOUT_S; continue; }
        this.pollOk = false;
        const delay = e.retryAfter != null ? e.retryAfter * 1000 : backoffDelay(this.attempt);
        this.attempt = Math.min(this.attempt + 1, 16);
        await new Promise((resolve) => this._wait(delay, resolve));
      }
    }
  }

  // ---------------------------------------------------------------- outgoing

  /** Send a frame on the WebSocket if it is authenticated. Returns false otherwise. */
  sendFrame(f) {
    const s = this.sock;
    if (this.mode !== 'ws' || !s || !s.ready || s.ws.readyState !== WebSocket.OPEN) return false;
    s.ws.send(JSON.stringify(f));
    return true;
  }

  /** Send a frame and wait for the reply carrying the same id (result/ack/synced/error). */
  request(f, timeoutMs = REQUEST_TIMEOUT_MS) {
    const id = f.id || `r${++this.reqSeq}`;
    return new Promise((resolve, reject) => {
      if (!this.sendFrame({ ...f, id })) { reject(Object.assign(new Error('not connected'), { code: 'disconnected' })); return; }
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(Object.assign(new Error('timeout'), { code: 'timeout' }));
      }, timeoutMs);
      this.requests.set(id, { resolve, reject, timer });
    });
  }

  /**
   * Send a chat message (the `send` frame without `op`). Replies arrive through onFrame
   * as `ack` or `error` (id `send:<client_msg_id>`) on either transport.
   */
  sendMessage(body) {
    const id = `send:${body.client_msg_id}`;
    if (this.mode === 'ws') return this.sendFrame({ op: 'send', id, ...body });
    this.api.postMessage(body).then(
      (ack) => this.onFrame({ op: 'ack', id, client_msg_id: body.client_msg_id, ...ack }, { replay: false }),
      (err) => this.onFrame({ op: 'error', id, code: err.code, message: err.message, retry_after: err.retryAfter }, { replay: false }),
    );
    return true;
  }

  sendReceipt(conversation_id, kind, up_to_seq) {
    if (this.mode === 'ws') return this.sendFrame({ op: 'receipt', conversation_id, kind, up_to_seq });
    this.api.postReceipt(conversation_id, kind, up_to_seq).catch(() => {});
    return true;
  }

  /** Typing is WebSocket-only (no HTTP route); silently dropped on long-poll. */
  sendTyping(conversation_id, state) {
    return this.sendFrame({ op: 'typing', conversation_id, state });
  }

  subscribePresence(users) {
    return users.length > 0 && this.sendFrame({ op: 'presence.subscribe', users });
  }

  /** A page of history in ascending seq: `history` frame on WebSocket, else HTTP. */
  async history(conversation_id, beforeSeq, limit = 50) {
    if (this.ready && this.mode === 'ws') {
      const f = { op: 'history', conversation_id, limit };
      if (beforeSeq) f.before_seq = beforeSeq;
      try {
        const r = await this.request(f);
        return r.messages || [];
      } catch (e) {
        if (e.code !== 'timeout' && e.code !== 'disconnected') throw e;
      }
    }
    const r = await this.api.messages(conversation_id, { beforeSeq: beforeSeq || undefined, limit });
    return (r && r.messages) || [];
  }
}
