// Group dialogs: create a group (POST /v1/groups), view members (GET /v1/groups/{id}),
// rename (PATCH), add (POST …/members), remove / leave (DELETE …/members/{user}),
// change roles (PUT …/members/{user}).

import { el, parseUserList, foldUserId, USER_ID_RE } from './util.js';
import { convTitle } from './views.js';

const $ = (id) => document.getElementById(id);

function showError(node, e) {
  node.textContent = e ? (e.message || String(e)) : '';
  node.hidden = !e;
}

function wireClose(dialog) {
  for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());
}

export function setupGroups({ api, store, chat, getMe, openConversation }) {
  // ---------------------------------------------------------------- create
  const createDlg = $('new-group-dialog');
  const createErr = $('new-group-error');
  wireClose(createDlg);

  function openCreate() {
    $('new-group-form').reset();
    showError(createErr, null);
    createDlg.showModal();
    $('new-group-name').focus();
  }

  $('new-group-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('new-group-name').value.trim();
    const members = parseUserList($('new-group-members').value).filter((u) => u !== getMe());
    const kind = $('new-group-kind').value;
    if (!name) { showError(createErr, new Error('Please give the group a name.')); return; }
    const bad = members.find((u) => !USER_ID_RE.test(u));
    if (bad) { showError(createErr, new Error(`“${bad}” is not a valid user id.`)); return; }
    const submit = e.submitter || createDlg.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const r = await api.createGroup(name, members, kind);
      const conv = store.ensureConv(r.conversation_id);
      Object.assign(conv, { kind, name, members: [getMe(), ...members], lastTs: Date.now() });
      store.emit('convs', conv.id);
      createDlg.close();
      await chat.loadConversations();
      openConversation(conv.id);
    } catch (err) {
      showError(createErr, err);
    } finally {
      submit.disabled = false;
    }
  });

  // ---------------------------------------------------------------- info / members
  const infoDlg = $('group-info-dialog');
  const infoErr = $('group-info-error');
  let infoConvId = null;
  let info = null;
  wireClose(infoDlg);
  infoDlg.addEventListener('close', () => { infoConvId = null; });

  async function refreshInfo() {
    if (!infoConvId) return;
    const id = infoConvId;
    try {
      info = await api.getGroup(id);
      if (infoConvId !== id) return;
      const conv = store.convs.get(id);
      if (conv && Array.isArray(info.members) && conv.kind !== 'channel') {
        conv.members = info.members.map((m) => (typeof m === 'string' ? m : m.user_id));
      }
      if (conv && info.name !== undefined) conv.name = info.name;
      store.emit('convs', id);
      renderInfo();
    } catch (err) {
      showError(infoErr, err);
    }
  }

  function renderInfo() {
    const conv = store.convs.get(infoConvId);
    if (!conv) return;
    const me = getMe();
    const members = (info && Array.isArray(info.members) ? info.members : (conv.members || []))
      .map((m) => (typeof m === 'string' ? { user_id: m, role: 'member' } : m));
    const myRole = members.find((m) => m.user_id === me)?.role;
    const admin = myRole === 'admin' || myRole === 'owner';
    const kind = info?.kind || conv.kind;
    $('group-info-title').textContent = info?.name ?? convTitle(conv);
    const count = info?.member_count ?? members.length;
    $('group-info-meta').textContent = `${kind === 'channel' ? 'Channel' : 'Group'} · ${count} member${count === 1 ? '' : 's'}` +
      (kind === 'channel' && info?.posting ? ` · posting: ${info.posting}` : '');
    $('rename-form').hidden = !admin || conv.left;
    $('rename-input').value = info?.name ?? conv.name ?? '';
    $('add-member-form').hidden = !admin || conv.left;
    $('leave-group-button').hidden = !!conv.left;

    const list = $('member-list');
    list.replaceChildren(...members.map((m) => {
      const isMe = m.user_id === me;
      const li = el('li', { 'data-testid': 'member-item', 'data-user-id': m.user_id, 'data-role': m.role || 'member' },
        el('span', { class: 'name' }, isMe ? `${m.user_id} (you)` : m.user_id),
        m.role === 'admin' ? el('span', { class: 'role' }, 'admin') : null);
      if (admin && !isMe && !conv.left) {
        const nextRole = m.role === 'admin' ? 'member' : 'admin';
        li.append(
          el('button', {
            type: 'button', class: 'ghost small', 'data-testid': 'member-role',
            'aria-label': `Make ${m.user_id} ${nextRole === 'admin' ? 'an admin' : 'a regular member'}`,
            onclick: () => act(() => api.setRole(infoConvId, m.user_id, nextRole)),
          }, nextRole === 'admin' ? 'Make admin' : 'Make member'),
          el('button', {
            type: 'button', class: 'danger small', 'data-testid': 'member-remove', 'aria-label': `Remove ${m.user_id}`,
            onclick: () => act(() => api.removeMember(infoConvId, m.user_id)),
          }, 'Remove'));
      }
      return li;
    }));
  }

  async function act(fn) {
    showError(infoErr, null);
    try {
      await fn();
      await refreshInfo();
    } catch (err) {
      showError(infoErr, err);
    }
  }

  function openInfo(convId) {
    infoConvId = convId;
    info = null;
    showError(infoErr, null);
    renderInfo();
    infoDlg.showModal();
    refreshInfo();
  }

  $('rename-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('rename-input').value.trim();
    if (name) act(() => api.patchGroup(infoConvId, { name }));
  });

  $('add-member-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const user = foldUserId($('add-member-input').value);
    if (!USER_ID_RE.test(user)) { showError(infoErr, new Error(`“${user}” is not a valid user id.`)); return; }
    act(async () => {
      await api.addMember(infoConvId, user);
      $('add-member-input').value = '';
    });
  });

  $('leave-group-button').addEventListener('click', async () => {
    const id = infoConvId;
    const conv = store.convs.get(id);
    if (!conv) return;
    try {
      await api.removeMember(id, getMe());
      conv.left = true;
      store.emit('convs', id);
      infoDlg.close();
      chat.loadConversations();
    } catch (err) {
      showError(infoErr, err);
    }
  });

  return {
    openCreate,
    openInfo,
    /** an `event` frame arrived for this conversation */
    changed(convId) { if (infoConvId === convId && infoDlg.open) refreshInfo(); },
    closeAll() { if (createDlg.open) createDlg.close(); if (infoDlg.open) infoDlg.close(); },
  };
}
