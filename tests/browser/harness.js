// Shared harness of the browser tests: starts the real parley-server (binary from
// PARLEY_SERVER, as CMake passes it) on a free port with a temporary data dir, launches
// Debian's chromium through playwright-core, and offers the few page helpers the tests share.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

export const SERVER_BIN = process.env.PARLEY_SERVER || path.join(repo, 'build/src/app/parley-server');
export const WEB_DIR = process.env.PARLEY_WEB_DIR || path.join(repo, 'web');
export const ARTIFACTS = process.env.PARLEY_BROWSER_ARTIFACTS || path.join(here, 'artifacts');
export const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'correct horse battery';

/** How long one condition may take; generous because 5 engineers share 2 cores. */
export const WAIT_MS = 20000;

/** The real server as a child process. Restart keeps the port and the data dir. */
export class Server {
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.tmp = mkdtempSync(path.join(process.env.TMPDIR || tmpdir(), 'parley-browser-'));
    this.port = 0;
    this.proc = null;
    this.log = '';
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  async start() {
    if (!existsSync(SERVER_BIN)) throw new Error(`server binary not found: ${SERVER_BIN} (set PARLEY_SERVER)`);
    const args = [
      '--listen', `127.0.0.1:${this.port}`, '--data-dir', path.join(this.tmp, 'data'), '--web-dir', WEB_DIR,
      '--argon2-opslimit', '1', '--argon2-memlimit-kib', '8', '--log-level', 'info',
      '--register-rate-per-min', '10000', ...this.extraArgs,
    ];
    // setpriv: the server dies with this process even if the test runner is killed.
    const proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', SERVER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const from = this.log.length;
    const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
    this.exited = exited;
    const listening = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        this.log += chunk;
        const m = /event=listening address=\S+:(\d+)/.exec(this.log.slice(from));
        if (m) resolve(Number(m[1]));
      };
      proc.stdout.setEncoding('utf8').on('data', onData);
      proc.stderr.setEncoding('utf8').on('data', onData);
      exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${this.log.slice(from)}`)));
      setTimeout(() => reject(new Error('server did not start within 20 s')), WAIT_MS).unref();
    });
    this.port = await listening;
  }

  /** SIGTERM and wait for the clean exit (SPEC: exits 0). Returns the exit code or signal name. */
  async stop() {
    if (!this.proc) return null;
    const proc = this.proc;
    this.proc = null;
    proc.kill('SIGTERM');
    return this.exited;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  /**
   * Stops the server (SIGTERM, so an instrumented build runs its leak check) and removes its
   * files; throws, failing the test file, if it did not exit 0 or printed a sanitizer report.
   */
  async dispose() {
    const code = await this.stop();
    if (!process.env.PARLEY_KEEP_TMP) rmSync(this.tmp, { recursive: true, force: true });
    const report = /ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer/.exec(this.log);
    if (report) throw new Error(`server printed a sanitizer report:\n${this.log.slice(report.index, report.index + 16384)}`);
    if (code !== null && code !== 0) throw new Error(`server exited (${code}):\n${this.log.slice(-8192)}`);
  }
}

export function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/setup.sh)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Saves a screenshot under the artifacts directory (build/browser-artifacts from ctest). */
export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/**
 * A new browser context (its own storage, like a separate person's browser) with one page on
 * the web client. Uncaught page errors are collected in `errors` so that tests can assert none.
 */
export async function openClient(browser, server, { query = '', viewport, contextOptions = {} } = {}) {
  const ctx = await browser.newContext({ viewport: viewport || { width: 1100, height: 720 }, ...contextOptions });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (process.env.PARLEY_BROWSER_DEBUG) { // print what the page does, for debugging a test
    const t = () => new Date().toISOString().slice(11, 23);
    page.on('console', (m) => console.error(t(), 'console', m.type(), m.text()));
    page.on('websocket', (ws) => {
      console.error(t(), 'ws open', ws.url());
      ws.on('framesent', (f) => console.error(t(), 'ws >', String(f.payload).slice(0, 200)));
      ws.on('framereceived', (f) => console.error(t(), 'ws <', String(f.payload).slice(0, 200)));
      ws.on('socketerror', (e) => console.error(t(), 'ws error', e));
      ws.on('close', () => console.error(t(), 'ws close'));
    });
    page.on('requestfailed', (r) => console.error(t(), 'request failed', r.url(), r.failure()?.errorText));
  }
  return { ctx, page, errors, goto: () => page.goto(`${server.url}/${query}`) };
}

/** Registers `userId` through the form (the "Create account" tab) and waits until online. */
export async function register(page, userId, { displayName = '', transport = 'ws' } = {}) {
  await page.getByTestId('tab-register').click();
  await page.getByLabel('User id', { exact: true }).fill(userId);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  if (displayName) await page.getByLabel('Display name (optional)').fill(displayName);
  await page.getByTestId('login-submit').click();
  await waitOnline(page, transport);
}

/** Waits until the connection status says online over `transport` (ws or longpoll). */
export function waitOnline(page, transport = 'ws') {
  return waitForState(page, 'online', transport);
}

export async function waitForState(page, state, transport = null) {
  const status = page.getByTestId('connection-status');
  await page.waitForFunction(([s, t]) => {
    const d = document.querySelector('[data-testid=connection-status]').dataset;
    return d.state === s && (!t || d.transport === t);
  }, [state, transport], { timeout: WAIT_MS }).catch(async (e) => {
    const { state: got, transport: via } = await status.evaluate((n) => ({ ...n.dataset }));
    throw new Error(`connection never became ${state}${transport ? ` over ${transport}` : ''}: it is ${got} over ${via} ` +
      `("${await status.textContent()}")\n${e.message}`);
  });
}

/** Opens (or starts) the 1:1 chat with `peer` from the sidebar. */
export async function openChatWith(page, peer) {
  const row = page.locator(`[data-testid=conversation-item][data-peer="${peer}"]`);
  if (await row.count()) {
    await row.getByRole('button').click();
  } else {
    await page.getByTestId('new-chat-button').click();
    await page.getByLabel('Start a chat with (user id)').fill(peer);
    await page.getByTestId('new-chat-submit').click();
  }
  await page.getByTestId('chat-title').filter({ hasText: peer }).waitFor({ timeout: WAIT_MS });
}

/** Types `text` in the composer and sends it with Enter. */
export async function send(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** Texts of the messages shown in the open conversation, in display order. */
export function messageTexts(page) {
  return page.getByTestId('message').evaluateAll((nodes) => nodes.map((n) => n.querySelector('[data-testid=message-text]')?.textContent ?? ''));
}

/** Waits until the open conversation shows exactly `texts`, in this order. */
export async function waitForMessages(page, texts) {
  await page.waitForFunction((want) => {
    const got = [...document.querySelectorAll('[data-testid=message]')]
      .map((n) => n.querySelector('[data-testid=message-text]')?.textContent ?? '');
    return JSON.stringify(got) === JSON.stringify(want);
  }, texts, { timeout: WAIT_MS }).catch(async (e) => {
    throw new Error(`messages never became ${JSON.stringify(texts)}; shown: ${JSON.stringify(await messageTexts(page))}\n${e.message}`);
  });
}

/** Waits until my message with `text` has status mark `status` (sent, delivered, read). */
export function waitForStatus(page, text, status) {
  return page.locator('[data-testid=message][data-own=true]', { has: page.getByText(text, { exact: true }) })
    .and(page.locator(`[data-status="${status}"]`)).waitFor({ timeout: WAIT_MS });
}

/** A JSON request straight to the server (not through a page): returns {status, body}. */
export async function httpJson(server, method, path, { json, body, contentType, token } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  else if (contentType) headers['Content-Type'] = contentType;
  const res = await fetch(server.url + path, { method, headers, body });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/** Registers and logs in `userId` over HTTP; returns the token. */
export async function apiUser(server, userId) {
  await httpJson(server, 'POST', '/v1/users', { json: { user_id: userId, password: PASSWORD } });
  const login = await httpJson(server, 'POST', '/v1/sessions', { json: { user_id: userId, password: PASSWORD } });
  if (login.status !== 200) throw new Error(`login of ${userId} failed: ${login.status}`);
  return login.body.token;
}

/** A 640×400 PNG drawn on a canvas, so that it is bigger than the 320 px thumbnail. */
export async function makePng(page) {
  const dataUrl = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 640;
    c.height = 400;
    const g = c.getContext('2d');
    const sky = g.createLinearGradient(0, 0, 0, 400);
    sky.addColorStop(0, '#4a7fe0');
    sky.addColorStop(1, '#f6c177');
    g.fillStyle = sky;
    g.fillRect(0, 0, 640, 400);
    g.fillStyle = '#2f5d3a';
    g.beginPath();
    g.moveTo(0, 400); g.lineTo(180, 170); g.lineTo(330, 330); g.lineTo(470, 200); g.lineTo(640, 400);
    g.fill();
    g.fillStyle = '#fff3c4';
    g.beginPath();
    g.arc(520, 90, 44, 0, Math.PI * 2);
    g.fill();
    return c.toDataURL('image/png');
  });
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}
