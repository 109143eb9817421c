// Accessibility basics and small screens: every control has an accessible name, the whole
// path from registering to sending works with the keyboard alone in a sensible focus order,
// and on a phone-sized viewport one pane shows at a time without horizontal scrolling.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, openClient, register, openChatWith, waitForMessages, waitOnline, shot, PASSWORD, WAIT_MS } from './harness.js';

const server = new Server();
let browser;

before(async () => {
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server.dispose();
});

/** Form controls and buttons (visible or not) that have no accessible name. */
function unnamedControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, textarea, select, button, [role=tab], a[href]')]
    .filter((n) => !(n.labels?.length || n.getAttribute('aria-label') || n.getAttribute('aria-labelledby') ||
      n.textContent.trim() || n.title))
    .map((n) => n.id || n.outerHTML.slice(0, 80)));
}

/** What has the keyboard focus, by data-testid (or id). */
function focused(page) {
  return page.evaluate(() => document.activeElement?.dataset.testid || document.activeElement?.id || document.activeElement?.tagName);
}

async function noHorizontalScroll(page) {
  const r = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, vw: innerWidth,
    msgs: [...document.querySelectorAll('.messages')].map((m) => m.scrollWidth - m.clientWidth) }));
  assert.ok(r.doc <= r.vw, `page is ${r.doc}px wide in a ${r.vw}px viewport`);
  for (const extra of r.msgs) assert.ok(extra <= 0, `message list scrolls sideways by ${extra}px`);
}

test('every control has a label, and register → chat → send works by keyboard alone', async () => {
  const peer = await openClient(browser, server);
  await peer.goto();
  await register(peer.page, 'dora');

  const { page, errors } = await openClient(browser, server);
  await page.goto(server.url);
  assert.deepEqual(await unnamedControls(page), []);
  assert.equal(await focused(page), 'login-user-id', 'the user id field has the focus on load');

  // The tab list is one tab stop; arrow keys switch between "Log in" and "Create account".
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(page), 'tab-login');
  await page.keyboard.press('ArrowRight');
  assert.equal(await focused(page), 'tab-register');
  assert.equal(await page.getByRole('tab', { name: 'Create account' }).getAttribute('aria-selected'), 'true');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'login-user-id');
  await page.keyboard.type('Carl');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'login-password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'login-display-name');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'login-submit');
  await page.keyboard.press('Enter');
  await waitOnline(page);
  assert.equal(await page.getByTestId('current-user').getAttribute('data-user-id'), 'carl', 'user ids are case-folded');
  assert.equal(await focused(page), 'new-chat-button', 'focus moves into the app after logging in');
  assert.deepEqual(await unnamedControls(page), []);

  await page.keyboard.press('Enter'); // "New chat"
  assert.equal(await focused(page), 'new-chat-user');
  await page.keyboard.type('dora');
  await page.keyboard.press('Enter');
  await page.getByTestId('chat-title').filter({ hasText: 'dora' }).waitFor({ timeout: WAIT_MS });
  assert.equal(await focused(page), 'composer-input', 'opening a chat focuses the message box');

  await page.keyboard.type('first line');
  await page.keyboard.press('Shift+Enter'); // a new line, not a send
  await page.keyboard.type('second line');
  assert.equal(await page.getByTestId('message').count(), 0);
  await page.keyboard.press('Enter');
  await waitForMessages(page, ['first line\nsecond line']);
  assert.equal(await focused(page), 'composer-input', 'the focus stays in the message box after sending');
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), '');

  // Focus order around the message box: attach before it, send after it.
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'send-button');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(page), 'attach-button');

  await openChatWith(peer.page, 'carl');
  await waitForMessages(peer.page, ['first line\nsecond line']);
  assert.deepEqual(errors, []);
  assert.deepEqual(peer.errors, []);
});

test('on a phone-sized screen one pane shows at a time and nothing scrolls sideways', async () => {
  const phone = await openClient(browser, server, {
    viewport: { width: 390, height: 844 },
    contextOptions: { isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  });
  const page = phone.page;
  await phone.goto();
  await noHorizontalScroll(page);
  await shot(page, 'phone-login');
  await register(page, 'erin');
  await noHorizontalScroll(page);
  const sidebar = page.getByRole('complementary', { name: 'Conversations' });
  assert.equal(await sidebar.isVisible(), true);
  assert.equal(await page.getByTestId('chat-pane').isVisible(), false);

  await openChatWith(page, 'dora');
  assert.equal(await sidebar.isVisible(), false, 'the list hides while a chat is open');
  const box = page.getByLabel('Message', { exact: true });
  await box.fill('A long message that has to wrap on a narrow phone screen without making the page scroll sideways: ' +
    'https://example.com/a/very/long/link/without/any/spaces/in/it/at/all/whatsoever');
  await box.press('Enter');
  await page.locator('[data-testid=message][data-status=sent], [data-testid=message][data-status=delivered]').waitFor({ timeout: WAIT_MS });
  await noHorizontalScroll(page);
  await shot(page, 'phone-chat');

  await page.getByRole('button', { name: 'Back to conversations' }).click();
  await sidebar.waitFor({ timeout: WAIT_MS });
  assert.equal(await page.getByTestId('chat-pane').isVisible(), false);
  assert.equal(await focused(page), 'conversation-open', 'focus returns to the conversation that was open');

  // The browser's back button also leaves the chat.
  await openChatWith(page, 'dora');
  await page.goBack();
  await sidebar.waitFor({ timeout: WAIT_MS });
  assert.deepEqual(phone.errors, []);
});
