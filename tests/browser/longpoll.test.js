// The long-poll fallback: Alice's browser cannot use WebSockets (Playwright routes every
// /v1/ws and closes it, as a proxy that refuses upgrades would), so after a few failed
// attempts, with plain HTTP still working, her client receives with GET /v1/sync and sends
// with POST /v1/messages. Bob stays on the WebSocket. When WebSockets work again, Alice's
// client goes back to them by itself.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, launchBrowser, openClient, register, openChatWith, send, waitForMessages, waitForStatus,
  waitOnline, shot,
} from './harness.js';

const server = new Server();
let browser;
let alice;
let bob;
let wsBlocked = true;
let blockedAttempts = 0;

before(async () => {
  await server.start();
  browser = await launchBrowser();
  alice = await openClient(browser, server);
  await alice.ctx.routeWebSocket(/\/v1\/ws/, (ws) => {
    if (!wsBlocked) { ws.connectToServer(); return; }
    blockedAttempts++;
    ws.close({ code: 1011, reason: 'blocked by the test' });
  });
  bob = await openClient(browser, server);
  await alice.goto();
  await bob.goto();
});

after(async () => {
  await browser?.close();
  await server.dispose();
});

test('with WebSockets blocked the client falls back to long-poll and chats both ways', async () => {
  const a = alice.page;
  const b = bob.page;
  await register(a, 'alice', { transport: 'longpoll' });
  assert.ok(blockedAttempts >= 3, `fell back after ${blockedAttempts} blocked WebSocket attempts`);
  assert.equal(await a.getByTestId('connection-status').textContent(), 'Connected (long-poll)');
  await register(b, 'bob');

  await openChatWith(a, 'bob');
  await send(a, 'Sent over HTTP'); // POST /v1/messages
  await b.locator('[data-testid=conversation-item][data-peer=alice][data-unread="1"]').waitFor();
  await waitForStatus(a, 'Sent over HTTP', 'delivered'); // Bob's receipt reaches Alice by long-poll
  await openChatWith(b, 'alice');
  await waitForStatus(a, 'Sent over HTTP', 'read');

  await send(b, 'Received by long-poll');
  await waitForMessages(a, ['Sent over HTTP', 'Received by long-poll']);
  await waitForStatus(b, 'Received by long-poll', 'read'); // POST /v1/conversations/{id}/receipts
  await shot(a, 'longpoll-alice');
  assert.deepEqual(alice.errors, []);
});

test('when WebSockets work again the client leaves long-poll by itself', async () => {
  const a = alice.page;
  wsBlocked = false;
  await waitOnline(a, 'ws'); // the first probe comes 5 s after the fallback
  await send(a, 'Back on the WebSocket');
  await waitForMessages(bob.page, ['Sent over HTTP', 'Received by long-poll', 'Back on the WebSocket']);
  await waitForMessages(a, ['Sent over HTTP', 'Received by long-poll', 'Back on the WebSocket']);
  assert.deepEqual(alice.errors, []);
});
