// HTTP calls to the Parley server (SPEC section 3). Every authenticated call sends
// `Authorization: Bearer TOKEN`; failures become ApiError built from the
// `{"error":{"code","message"}}` body, with `retryAfter` (seconds) from `Retry-After`.

const STATUS_CODES = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'bad_request',
  409: 'conflict', 413: 'too_large', 429: 'rate_limited', 503: 'unavailable',
};

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function parseRetryAfter(value) {
  if (!value) return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}

function errorFrom(status, bodyText, retryAfterHeader, statusText) {
  let code = STATUS_CODES[status] || (status >= 500 ? 'internal' : 'bad_request');
  let message = statusText || `HTTP ${status}`;
  try {
    const j = JSON.parse(bodyText);
    if (j && j.error) {
      code = j.error.code || code;
      message = j.error.message || message;
    }
  } catch { /* not JSON */ }
  return new ApiError(status, code, message, parseRetryAfter(retryAfterHeader));
}

const enc = encodeURIComponent;

/**
 * @param {{getToken: () => string|null, onUnauthorized?: (e: ApiError) => void, base?: string}} opts
 */
export function createApi({ getToken, onUnauthorized, base = '' }) {
  async function call(method, path, { json, body, headers = {}, signal, auth = true, raw = false } = {}) {
    const h = { ...headers };
    const token = auth ? getToken() : null;
    if (token) h.Authorization = `Bearer ${token}`;
    if (json !== undefined) {
      h['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    }
    let res;
    try {
      res = await fetch(base + path, { method, headers: h, body, signal, cache: 'no-store' });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'Cannot reach the server');
    }
    if (!res.ok) {
      const err = errorFrom(res.status, await res.text().catch(() => ''), res.headers.get('Retry-After'), res.statusText);
      if (res.status === 401 && token) onUnauthorized?.(err);
      throw err;
    }
    if (raw) return res;
    if (res.status === 204) return null;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }

  /** POST /v1/media with XHR, so that the UI can show upload progress. */
  function uploadAs(file, contentType, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${base}/v1/media`);
      const token = getToken();
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.setRequestHeader('Content-Type', contentType);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total); };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          try { resolve(JSON.parse(xhr.responseText)); } catch { reject(new ApiError(xhr.status, 'internal', 'Bad upload response')); }
          return;
        }
        const err = errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After'), xhr.statusText);
        if (xhr.status === 401 && token) onUnauthorized?.(err);
        reject(err);
      };
      xhr.onerror = () => reject(new ApiError(0, 'network', 'Upload failed: cannot reach the server'));
      xhr.send(file);
    });
  }

  const qs = (params) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
    const s = p.toString();
    return s ? `?${s}` : '';
  };

  return {
    call,
    register: (user_id, password, display_name) =>
      call('POST', '/v1/users', { auth: false, json: display_name ? { user_id, password, display_name } : { user_id, password } }),
    login: (user_id, password) =>
      call('POST', '/v1/sessions', { auth: false, json: { user_id, password, device: 'web' } }),
    logout: () => call('DELETE', '/v1/sessions'),
    conversations: () => call('GET', '/v1/conversations'),
    messages: (convId, { beforeSeq, afterSeq, limit } = {}) =>
      call('GET', `/v1/conversations/${enc(convId)}/messages${qs({ before_seq: beforeSeq, after_seq: afterSeq, limit })}`),
    sync: (cursor, timeout, signal) => call('GET', `/v1/sync${qs({ cursor, timeout })}`, { signal }),
    postMessage: (frame) => call('POST', '/v1/messages', { json: frame }),
    postReceipt: (convId, kind, up_to_seq) =>
      call('POST', `/v1/conversations/${enc(convId)}/receipts`, { json: { kind, up_to_seq } }),
    presence: (users) => call('GET', `/v1/presence${qs({ users: users.join(',') })}`),
    createGroup: (name, members, kind = 'group') => call('POST', '/v1/groups', { json: { name, members, kind } }),
    getGroup: (id) => call('GET', `/v1/groups/${enc(id)}`),
    patchGroup: (id, patch) => call('PATCH', `/v1/groups/${enc(id)}`, { json: patch }),
    addMember: (id, user_id) => call('POST', `/v1/groups/${enc(id)}/members`, { json: { user_id } }),
    removeMember: (id, user) => call('DELETE', `/v1/groups/${enc(id)}/members/${enc(user)}`),
    setRole: (id, user, role) => call('PUT', `/v1/groups/${enc(id)}/members/${enc(user)}`, { json: { role } }),

    /** Fetch media (or its thumbnail) with the bearer token; returns a Blob. */
    async mediaBlob(id, thumbnail = false) {
      const res = await call('GET', `/v1/media/${enc(id)}${thumbnail ? '/thumbnail' : ''}`, { raw: true });
      return res.blob();
    },

    /**
     * Upload a File as the raw body (POST /v1/media → {media_id, size, sha256, content_type,
     * width?, height?}). A type the server does not accept (400) is sent once more as
     * application/octet-stream: it then travels as a plain file.
     */
    async uploadMedia(file, onProgress) {
      const type = file.type || 'application/octet-stream';
      try {
        return await uploadAs(file, type, onProgress);
      } catch (e) {
        if (e.status !== 400 || type === 'application/octet-stream') throw e;
        return uploadAs(file, 'application/octet-stream', onProgress);
      }
    },
  };
}
