// The message stream of the open conversation: keyed rendering (existing bubbles are
// reused, so scroll position, focus and loaded images survive updates), day separators,
// status marks, system lines for `event` items and authenticated media via blob URLs.

import { el, formatClock, formatDay } from './util.js';
import { eventText } from './views.js';

const MARKS = {
  pending: ['◷', 'Sending'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
  failed: ['!', 'Not sent'],
};

export class MessagesView {
  constructor({ api, onRetry, onLoadOlder }) {
    this.api = api;
    this.onRetry = onRetry;
    this.scroller = document.getElementById('message-scroller');
    this.list = document.getElementById('message-list');
    this.olderBtn = document.getElementById('load-older');
    this.historyStart = document.getElementById('history-start');
    this.nodes = new Map(); // row key -> {node, sig}
    this.convId = null;
    this.media = new Map(); // `${id}:${thumb}` -> Promise<objectURL>
    this.olderBtn.addEventListener('click', () => onLoadOlder());
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < 60 && !this.olderBtn.hidden) onLoadOlder();
    }, { passive: true });
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Render `items` (sorted) of `conv`. `ctx` = {me, statusOf(item), loadingOlder}. */
  render(conv, items, ctx) {
    const switched = conv.id !== this.convId;
    if (switched) {
      this.list.replaceChildren();
      this.nodes.clear();
      this.convId = conv.id;
    }
    const wasAtBottom = this.nearBottom();
    const prevHeight = this.scroller.scrollHeight;
    const prevTop = this.scroller.scrollTop;
    const prevFirst = this.list.firstElementChild;
    const prevLastKey = this.list.lastElementChild?.dataset.key;

    const rows = [];
    let lastDay = null;
    let prevSender = null;
    for (const it of items) {
      const day = formatDay(it.ts || Date.now());
      if (day !== lastDay) {
        rows.push({ key: `d:${day}`, sig: day, build: () => el('li', { class: 'day', 'data-testid': 'day-separator', text: day }) });
        lastDay = day;
        prevSender = null;
      }
      if (it.op === 'event') {
        const text = eventText(it, ctx.me);
        rows.push({ key: it.key, sig: text, build: () => this._event(it, text) });
        prevSender = null;
        continue;
      }
      const own = it.sender === ctx.me;
      const showSender = !own && conv.kind !== 'direct' && it.sender !== prevSender;
      prevSender = it.sender;
      const status = own ? ctx.statusOf(it) : '';
      const sig = [status, it.seq, showSender, it.content, it.media_id, it.localUrl ? 1 : 0].join('|');
      rows.push({ key: it.key, sig, build: () => this._message(it, { own, showSender, status }) });
    }

    const keep = new Set();
    rows.forEach((row, i) => {
      keep.add(row.key);
      let entry = this.nodes.get(row.key);
      if (!entry || entry.sig !== row.sig) {
        const node = row.build();
        node.dataset.key = row.key;
        if (entry) entry.node.replaceWith(node);
        entry = { node, sig: row.sig };
        this.nodes.set(row.key, entry);
      }
      if (this.list.children[i] !== entry.node) this.list.insertBefore(entry.node, this.list.children[i] || null);
    });
    for (const [key, entry] of this.nodes) if (!keep.has(key)) { entry.node.remove(); this.nodes.delete(key); }

    this.olderBtn.hidden = !conv.hasMore || conv.draft;
    this.olderBtn.disabled = !!ctx.loadingOlder;
    this.olderBtn.textContent = ctx.loadingOlder ? 'Loading…' : 'Load older messages';
    this.historyStart.hidden = conv.hasMore || items.length === 0;

    const last = items[items.length - 1];
    const lastKey = this.list.lastElementChild?.dataset.key;
    if (switched) this.scrollToBottom();
    else if (prevFirst && this.list.firstElementChild !== prevFirst && lastKey === prevLastKey) {
      this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight); // older page prepended
    } else if (wasAtBottom || (lastKey !== prevLastKey && last && last.sender === ctx.me)) {
      this.scrollToBottom();
    }
  }

  _event(it, text) {
    return el('li', { class: 'system', 'data-testid': 'system-event', 'data-seq': it.seq, 'data-kind': it.kind, role: 'note' }, text);
  }

  _message(it, { own, showSender, status }) {
    const bubble = el('div', { class: 'bubble' });
    if (it.type === 'image' && (it.media_id || it.localUrl)) bubble.append(this._image(it));
    else if (it.type === 'file' && it.media_id) bubble.append(this._file(it));
    if (it.content && it.type !== 'file') {
      bubble.append(el('div', { class: 'text', 'data-testid': 'message-text', dir: 'auto' }, it.content));
    }
    const meta = el('div', { class: 'meta' },
      el('time', { datetime: new Date(it.ts || Date.now()).toISOString(), text: formatClock(it.ts || Date.now()) }));
    if (own) {
      const [glyph, label] = MARKS[status] || MARKS.sent;
      meta.append(el('span', { class: 'mark', 'data-testid': 'message-status', 'data-status': status, role: 'img', 'aria-label': label, title: label }, glyph));
    }
    bubble.append(meta);
    const li = el('li', {
      class: `msg ${own ? 'own' : 'other'}${it.failed ? ' failed' : ''}`,
      'data-testid': 'message',
      'data-seq': it.seq ?? null,
      'data-message-id': it.message_id ?? null,
      'data-client-msg-id': it.client_msg_id ?? null,
      'data-sender': it.sender ?? null,
      'data-type': it.type || 'text',
      'data-own': own ? 'true' : 'false',
      'data-status': own ? status : null,
    });
    if (showSender) li.append(el('div', { class: 'sender', 'data-testid': 'message-sender' }, it.sender));
    li.append(bubble);
    if (it.failed) {
      li.append(el('button', { type: 'button', class: 'retry', 'data-testid': 'message-retry', onclick: () => this.onRetry(it) },
        `Not sent${it.error ? ` (${it.error})` : ''} — retry`));
    }
    return li;
  }

  /** Object URL for media fetched with the bearer token; thumbnail first, then original. */
  mediaUrl(id, thumbnail) {
    const key = `${id}:${thumbnail ? 't' : 'o'}`;
    if (!this.media.has(key)) {
      const p = (async () => {
        let blob;
        try {
          blob = await this.api.mediaBlob(id, thumbnail);
        } catch (e) {
          if (!thumbnail || e.status === 401) throw e;
          return this.mediaUrl(id, false);
        }
        return URL.createObjectURL(blob);
      })();
      p.catch(() => this.media.delete(key)); // allow a later retry
      this.media.set(key, p);
    }
    return this.media.get(key);
  }

  _image(it) {
    const img = el('img', {
      class: 'media-img', alt: it.content ? `Image: ${it.content}` : 'Image', 'data-testid': 'message-image',
      'data-media-id': it.media_id ?? null,
      // the real size (from the message frame) reserves the right box before the thumbnail loads
      width: it.width > 0 ? it.width : null, height: it.height > 0 ? it.height : null,
    });
    const stick = () => { if (this.nearBottom()) requestAnimationFrame(() => this.scrollToBottom()); };
    img.addEventListener('load', stick);
    const open = el('button', { type: 'button', class: 'media-open', style: 'padding:0;border:0;display:block', 'aria-label': 'Open image full size' }, img);
    if (it.localUrl) { // my own upload: show the local file, no download needed
      img.src = it.localUrl;
    } else {
      this.mediaUrl(it.media_id, true).then((url) => { img.src = url; }, () => {
        img.replaceWith(el('span', { class: 'media-error', 'data-testid': 'media-error' }, 'Image unavailable'));
      });
    }
    open.addEventListener('click', async () => {
      const url = it.localUrl || await this.mediaUrl(it.media_id, false).catch(() => null);
      if (url) window.open(url, '_blank', 'noopener');
    });
    return open;
  }

  _file(it) {
    const name = it.content || 'file';
    const icon = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    icon.setAttribute('viewBox', '0 0 24 24');
    icon.setAttribute('width', '18');
    icon.setAttribute('height', '18');
    icon.setAttribute('aria-hidden', 'true');
    icon.innerHTML = '<path d="M14 3H7a2 2 0 00-2 2v14a2 2 0 002 2h10a2 2 0 002-2V8z M14 3v5h5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>';
    const a = el('a', { class: 'media-file', href: '#', 'data-testid': 'message-file', 'data-media-id': it.media_id, download: name, 'aria-label': `Download ${name}` },
      icon, el('span', { class: 'file-name' }, name));
    a.addEventListener('click', async (e) => {
      if (a.dataset.ready) return; // href is now the blob URL: let the browser download it
      e.preventDefault();
      try {
        a.href = await this.mediaUrl(it.media_id, false);
        a.dataset.ready = '1';
        a.click();
      } catch (err) {
        a.after(el('span', { class: 'media-error' }, ` ${err.message || 'Download failed'}`));
      }
    });
    return a;
  }

  clear() {
    this.list.replaceChildren();
    this.nodes.clear();
    this.convId = null;
  }

  revokeMedia() {
    for (const p of this.media.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
    this.media.clear();
  }
}
