// Makes docs/web-client.png, the screenshot in the README: a short conversation between two
// people (with a photo when the server has media) and a group in the list, on the real
// server. Not a test; run it after building parley-server:
//
//   node tests/browser/docs-screenshot.js [OUTPUT.png]

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Server, launchBrowser, openClient, register, openChatWith, send, waitForStatus, apiUser, httpJson, makePng, WAIT_MS,
} from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const output = process.argv[2] || path.resolve(here, '../../docs/web-client.png');

const server = new Server(['--presence-grace-ms', '200']);
await server.start();
const browser = await launchBrowser();
try {
  const alice = await openClient(browser, server, { viewport: { width: 1100, height: 640 } });
  const bob = await openClient(browser, server);
  await alice.goto();
  await bob.goto();
  await register(alice.page, 'alice', { displayName: 'Alice' });
  await register(bob.page, 'bob', { displayName: 'Bob' });

  // A group with some history, written over HTTP so that it sits lower in the list.
  const carol = await apiUser(server, 'carol');
  const group = await httpJson(server, 'POST', '/v1/groups', { token: carol, json: { name: 'Climbing club', members: ['alice', 'bob'] } });
  await httpJson(server, 'POST', '/v1/messages', {
    token: carol, json: { conversation_id: group.body.conversation_id, type: 'text', content: 'Saturday at the crag?', client_msg_id: 'docs-1' },
  });

  const a = alice.page;
  const b = bob.page;
  await openChatWith(a, 'bob');
  await send(a, 'Are we still on for the hike tomorrow?');
  await openChatWith(b, 'alice');
  await send(b, 'Yes! Meet at the trailhead at 8?');
  await send(a, 'Perfect. I will bring coffee ☕');
  await waitForStatus(a, 'Perfect. I will bring coffee ☕', 'read');

  const probe = await httpJson(server, 'POST', '/v1/media', { token: carol, body: 'x', contentType: 'text/plain' });
  if (probe.status === 201) {
    await b.getByTestId('upload-input').setInputFiles({ name: 'trail.png', mimeType: 'image/png', buffer: await makePng(b) });
    await a.locator('[data-testid=message][data-type=image] img[src^="blob:"]').waitFor({ timeout: WAIT_MS });
  }
  await b.getByLabel('Message', { exact: true }).pressSequentially('See you');
  await a.getByTestId('typing-indicator').waitFor({ timeout: WAIT_MS });
  await a.screenshot({ path: output });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  await server.dispose();
}
