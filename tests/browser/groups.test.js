// Groups in the UI: create one with the dialog, add and remove members from the members
// dialog, and see what each member sees (system lines, messages, "no longer a member").

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, openClient, register, send, waitForMessages, shot, WAIT_MS } from './harness.js';

const server = new Server();
let browser;
const clients = {};

before(async () => {
  await server.start();
  browser = await launchBrowser();
  for (const name of ['alice', 'bob', 'carol']) {
    clients[name] = await openClient(browser, server);
    await clients[name].goto();
    await register(clients[name].page, name);
  }
});

after(async () => {
  await browser?.close();
  await server.dispose();
});

function groupRow(page) {
  return page.locator('[data-testid=conversation-item][data-kind=group]', { hasText: 'Weekend trip' });
}

function systemLine(page, text) {
  return page.getByTestId('system-event').filter({ hasText: text });
}

function members(page) {
  return page.getByTestId('member-item').evaluateAll((n) => n.map((li) => `${li.dataset.userId}:${li.dataset.role}`).sort());
}

test('create a group, add and remove members, and chat in it', async () => {
  const a = clients.alice.page;
  const b = clients.bob.page;
  const c = clients.carol.page;

  await a.getByTestId('new-group-button').click();
  const create = a.getByRole('dialog', { name: 'New group' });
  await create.getByLabel('Group name').fill('Weekend trip');
  await create.getByLabel('Members (user ids, separated by commas or spaces)').fill('Bob');
  await create.getByRole('button', { name: 'Create' }).click();
  await create.waitFor({ state: 'hidden' });
  await a.getByTestId('chat-title').filter({ hasText: 'Weekend trip' }).waitFor({ timeout: WAIT_MS });
  await systemLine(a, 'You created “Weekend trip”').waitFor({ timeout: WAIT_MS });
  assert.equal(await a.getByTestId('presence-label').textContent(), '2 members');

  // Bob sees the new group live and opens it.
  await groupRow(b).getByRole('button').click();
  await systemLine(b, 'alice created “Weekend trip”').waitFor({ timeout: WAIT_MS });

  // Alice adds Carol from the members dialog.
  await a.getByRole('button', { name: 'Members' }).click();
  const info = a.getByRole('dialog', { name: 'Weekend trip' });
  await info.waitFor();
  await a.getByTestId('member-item').nth(1).waitFor();
  // The list shows the cached members at once and their roles when GET /v1/groups/{id} answers.
  await a.locator('[data-testid=member-item][data-user-id=alice][data-role=admin]').waitFor({ timeout: WAIT_MS });
  assert.deepEqual(await members(a), ['alice:admin', 'bob:member']);
  await info.getByLabel('Add member (user id)').fill('carol');
  await info.getByRole('button', { name: 'Add', exact: true }).click();
  await a.locator('[data-testid=member-item][data-user-id=carol]').waitFor({ timeout: WAIT_MS });
  await shot(a, 'group-members');
  await info.press('Escape'); // dialogs close with the keyboard
  await info.waitFor({ state: 'hidden' });
  await systemLine(a, 'You added carol').waitFor({ timeout: WAIT_MS });
  await systemLine(b, 'alice added carol').waitFor({ timeout: WAIT_MS });
  await a.getByTestId('presence-label').filter({ hasText: '3 members' }).waitFor({ timeout: WAIT_MS });

  // Carol gets the group in her list and everybody chats.
  await groupRow(c).getByRole('button').click();
  await send(a, 'Who brings the tent?');
  await send(b, 'I do');
  for (const p of [a, b, c]) await waitForMessages(p, ['Who brings the tent?', 'I do']);
  assert.deepEqual(await c.getByTestId('message-sender').allTextContents(), ['alice', 'bob']);
  await shot(c, 'group-carol');

  // Alice removes Bob: he is told, can no longer write, and the others see it.
  await a.getByRole('button', { name: 'Members' }).click();
  await info.getByRole('button', { name: 'Remove bob' }).click();
  await a.locator('[data-testid=member-item][data-user-id=bob]').waitFor({ state: 'detached', timeout: WAIT_MS });
  assert.deepEqual(await members(a), ['alice:admin', 'carol:member']);
  await info.getByRole('button', { name: 'Close' }).click();
  await b.getByTestId('left-notice').waitFor({ timeout: WAIT_MS });
  assert.equal(await b.getByTestId('composer').isHidden(), true);
  await systemLine(c, 'alice removed bob').waitFor({ timeout: WAIT_MS });
  await shot(b, 'group-bob-removed');

  await send(c, 'Bob is out');
  await waitForMessages(a, ['Who brings the tent?', 'I do', 'Bob is out']);
  await waitForMessages(b, ['Who brings the tent?', 'I do']); // nothing after his removal
  for (const { errors } of Object.values(clients)) assert.deepEqual(errors, []);
});

test('creating a group with an unknown member shows the error in the dialog', async () => {
  const a = clients.alice.page;
  await a.getByTestId('new-group-button').click();
  const create = a.getByRole('dialog', { name: 'New group' });
  await create.getByLabel('Group name').fill('Ghosts');
  await create.getByLabel('Members (user ids, separated by commas or spaces)').fill('nobody-here');
  await create.getByRole('button', { name: 'Create' }).click();
  const error = create.getByTestId('new-group-error');
  await error.waitFor({ timeout: WAIT_MS });
  assert.notEqual((await error.textContent()).trim(), '');
  await create.getByRole('button', { name: 'Cancel' }).click();
  await create.waitFor({ state: 'hidden' });
});
