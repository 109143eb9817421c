// Two people in two browser contexts: register, chat both ways, receipts, presence, typing,
// and a server restart in the middle of the conversation.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, launchBrowser, openClient, register, openChatWith, send, waitForMessages, waitForStatus,
  waitForState, waitOnline, shot, apiUser, httpJson, WAIT_MS,
} from './harness.js';

// A short presence grace so that "offline" shows without a 5 s wait.
const server = new Server(['--presence-grace-ms', '200']);
let browser;
let alice;
let bob;

before(async () => {
  await server.start();
  browser = await launchBrowser();
  alice = await openClient(browser, server);
  bob = await openClient(browser, server);
  await alice.goto();
  await bob.goto();
  await register(alice.page, 'alice', { displayName: 'Alice' });
  await register(bob.page, 'bob', { displayName: 'Bob' });
});

after(async () => {
  await browser?.close();
  await server.dispose();
});

test('two users chat both ways and see sent, delivered and read marks', async () => {
  const a = alice.page;
  const b = bob.page;
  await openChatWith(a, 'bob');
  await send(a, 'Hi Bob!');
  // Bob has the conversation in his list but not open: delivered, not read.
  const row = b.locator('[data-testid=conversation-item][data-peer=alice]');
  await row.and(b.locator('[data-unread="1"]')).waitFor({ timeout: WAIT_MS });
  assert.equal(await row.getByTestId('conversation-preview').textContent(), 'Hi Bob!');
  assert.equal(await row.getByTestId('unread-badge').textContent(), '1');
  await waitForStatus(a, 'Hi Bob!', 'delivered');
  await shot(a, 'chat-1-delivered');

  await openChatWith(b, 'alice');
  await waitForMessages(b, ['Hi Bob!']);
  await waitForStatus(a, 'Hi Bob!', 'read');
  await row.and(b.locator('[data-unread="0"]')).waitFor({ timeout: WAIT_MS });

  await send(b, 'Hello Alice, how are you?');
  await waitForMessages(a, ['Hi Bob!', 'Hello Alice, how are you?']);
  await waitForStatus(b, 'Hello Alice, how are you?', 'read'); // Alice has the chat open
  await send(a, 'Great, thanks!');
  await waitForMessages(b, ['Hi Bob!', 'Hello Alice, how are you?', 'Great, thanks!']);
  await waitForStatus(a, 'Great, thanks!', 'read');
  await shot(a, 'chat-2-alice');
  await shot(b, 'chat-2-bob');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('typing shows on the other side and clears when the text is cleared or sent', async () => {
  const a = alice.page;
  const b = bob.page;
  const indicator = a.getByTestId('typing-indicator');
  const box = b.getByLabel('Message', { exact: true });
  await box.pressSequentially('I am wri');
  await indicator.filter({ hasText: 'typing…' }).waitFor({ timeout: WAIT_MS });
  await shot(a, 'typing-shown');
  await box.fill('');
  await box.press('Backspace'); // an input event with empty text sends typing stop
  await indicator.waitFor({ state: 'hidden', timeout: WAIT_MS });
  assert.equal(await a.getByTestId('presence-label').isVisible(), true);

  await box.pressSequentially('Typing again');
  await indicator.waitFor({ state: 'visible', timeout: WAIT_MS });
  await box.press('Enter');
  await indicator.waitFor({ state: 'hidden', timeout: WAIT_MS });
  await waitForMessages(a, ['Hi Bob!', 'Hello Alice, how are you?', 'Great, thanks!', 'Typing again']);
});

test('presence: the peer shows online, then last seen after leaving, then online again', async () => {
  const a = alice.page;
  const label = a.getByTestId('presence-label');
  await a.locator('[data-testid=presence-label][data-status=online]').waitFor({ timeout: WAIT_MS });
  assert.equal(await label.textContent(), 'online');
  await bob.ctx.close(); // Bob closes his browser
  await a.locator('[data-testid=presence-label][data-status=offline]').waitFor({ timeout: WAIT_MS });
  assert.match(await label.textContent(), /^last seen /);
  await shot(a, 'presence-offline');

  bob = await openClient(browser, server);
  await bob.goto();
  await bob.page.getByLabel('User id', { exact: true }).fill('bob');
  await bob.page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await bob.page.getByLabel('Password', { exact: true }).press('Enter'); // log in with the keyboard
  await waitOnline(bob.page);
  await a.locator('[data-testid=presence-label][data-status=online]').waitFor({ timeout: WAIT_MS });
});

test('a server restart shows reconnecting, then recovers with no lost or doubled message', async () => {
  const a = alice.page;
  const b = bob.page;
  await openChatWith(b, 'alice');
  const before = ['Hi Bob!', 'Hello Alice, how are you?', 'Great, thanks!', 'Typing again'];
  await waitForMessages(b, before);

  assert.equal(await server.stop(), 0, `the server exits 0 on SIGTERM; its log:\n${server.log.slice(-3000)}`);
  await waitForState(a, 'reconnecting');
  await waitForState(b, 'reconnecting');
  await a.getByTestId('connection-status').filter({ hasText: 'Reconnecting…' }).waitFor({ timeout: WAIT_MS });
  await shot(a, 'restart-reconnecting');

  // Written while the server is down: stays pending in the outbox, then goes out.
  await send(a, 'Sent while the server was down');
  await a.locator('[data-testid=message][data-status=pending]').waitFor({ timeout: WAIT_MS });

  await server.start();
  await waitOnline(a);
  await waitOnline(b);
  await waitForStatus(a, 'Sent while the server was down', 'read');
  await send(b, 'Back online');
  const all = [...before, 'Sent while the server was down', 'Back online'];
  await waitForMessages(a, all);
  await waitForMessages(b, all);
  await shot(a, 'restart-recovered');

  // What the server stored is the same: a fresh load of the page shows the same history.
  await b.reload();
  await waitOnline(b);
  await openChatWith(b, 'alice');
  await waitForMessages(b, all);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('history loads the newest page first and older pages when scrolling up', async () => {
  const a = alice.page;
  const token = await apiUser(server, 'carol');
  const texts = Array.from({ length: 70 }, (_, i) => `history ${i + 1}`);
  for (const [i, content] of texts.entries()) {
    const res = await httpJson(server, 'POST', '/v1/messages',
      { token, json: { to: 'alice', type: 'text', content, client_msg_id: `h${i}` } });
    assert.equal(res.status, 201);
  }
  const row = a.locator('[data-testid=conversation-item][data-peer=carol]');
  await row.and(a.locator('[data-unread="70"]')).waitFor({ timeout: WAIT_MS });
  // A page syncs from its stored cursor, which `synced` moves past all 70 on this reload; the
  // next load finds nothing new, so the conversation's history comes in pages when opened.
  for (let i = 0; i < 2; i++) {
    await a.reload();
    await waitOnline(a);
    await row.and(a.locator('[data-unread="70"]')).waitFor({ timeout: WAIT_MS });
  }
  await openChatWith(a, 'carol');
  await waitForMessages(a, texts.slice(-50));
  assert.equal(await a.getByTestId('history-start').isVisible(), false);
  await a.getByTestId('message-scroller').evaluate((s) => { s.scrollTop = 0; });
  await waitForMessages(a, texts);
  await a.getByTestId('history-start').waitFor({ timeout: WAIT_MS });
  await row.and(a.locator('[data-unread="0"]')).waitFor({ timeout: WAIT_MS });
  assert.deepEqual(alice.errors, []);
});
