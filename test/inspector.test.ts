// The inspector page in a real browser (Debian's Chromium, driven by playwright-core).
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSPECTOR_API } from '../dist/src/internal.js';
import { createRuntime, fixture, silentLogger, type Runtime } from './helpers.js';

const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname;
let runtime: Runtime;
let browser: Browser;
let url: string;

beforeAll(async () => {
  runtime = await createRuntime({
    machines: { light: fixture('light'), secretive: fixture('secretive'), alarm: fixture('alarm') },
    workers: 2,
    logger: silentLogger,
    store: 'memory',
    pools: { lights: { capacity: 100 } },
  });
  for (let i = 0; i < 12; i++) await runtime.spawn('light', { id: `light-${i}`, pool: 'lights' });
  ({ url } = await runtime.serveInspector({ port: 0 }));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
});

afterAll(async () => {
  await browser?.close();
  await runtime?.shutdown();
});

describe('runtime.serveInspector', () => {
  it('pages the session table on the server: offset, limit, filters, total', () => {
    const api = runtime[INSPECTOR_API]();
    const page = api.page({ offset: 10, limit: 5 });
    expect(page.total).toBe(12);
    expect(page.rows.map((row) => row.id)).toEqual(['light-10', 'light-11']);
    const found = api.page({ offset: 0, limit: 50, search: 'light-1' });
    expect(found.rows.map((row) => row.id)).toEqual(['light-1', 'light-10', 'light-11']);
    expect(found.total).toBe(3);
    expect(api.page({ offset: 0, limit: 50, status: 'evicted' })).toEqual({ rows: [], total: 0 });
    expect(api.page({ offset: 0, limit: 2, pool: 'lights' }).total).toBe(12);
  });

  it('binds 127.0.0.1 and refuses requests without the token, the WebSocket too', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
    const bare = url.replace(/\?token=.*/, '');
    expect((await fetch(bare)).status).toBe(401);
    expect((await fetch(`${bare}?token=wrong`)).status).toBe(401);
    expect((await fetch(url)).status).toBe(200);
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${bare.replace('http', 'ws')}ws?token=wrong`);
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('error', () => resolve(-1));
    });
    expect(refused).toBe(401);
  });

  it('lists the live sessions, shows a state change within 2 s, and highlights the state of a clicked session', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.locator('#sessions tr[data-id="light-3"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#sessions tr.session').count()).toBe(12);
    await expect.poll(() => page.locator('#sessions tr[data-id="light-3"] td.value').textContent(), { timeout: 5_000 }).toBe('red');
    expect(await page.locator('#shards tbody tr').count()).toBe(2);

    await runtime.send('light-3', { type: 'NEXT' });
    const sentAt = Date.now();
    await page.locator('#sessions tr[data-id="light-3"] td.value', { hasText: 'green' }).waitFor({ timeout: 2_000 });
    expect(Date.now() - sentAt).toBeLessThan(2_000);

    await page.locator('#sessions tr[data-id="light-3"]').click();
    await page.locator('#chart .state.active[data-path="green"]').waitFor({ timeout: 5_000 });
    expect(await page.locator('#chart .state.active').count()).toBe(1);
    await runtime.send('light-3', { type: 'NEXT' });
    await page.locator('#chart .state.active[data-path="yellow"]').waitFor({ timeout: 2_000 });
    // The chart shows each state's transitions.
    expect(await page.locator('#chart .state[data-path="red"] .transition').first().textContent()).toBe('NEXT → green');
    await page.locator('#events', { hasText: 'NEXT' }).waitFor({ timeout: 2_000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}inspector.png`, fullPage: true });
    // The token left the address bar; the cookie the page set lets it come back without it.
    expect(page.url()).not.toContain('token=');
    await page.goto(url.replace(/\?token=.*/, ''));
    await page.locator('#sessions tr[data-id="light-3"]').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('never shows a secret in a session’s context: the connection token is redacted', async () => {
    await runtime.spawn('secretive', { id: 'secret-1', pool: 'lights', input: { ipc: { address: { path: '/tmp/x' }, token: 'sekret-123' }, Password: 'hunter2', name: 'visible' } });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.locator('#sessions tr[data-id="secret-1"]').click({ timeout: 10_000 });
    await page.locator('body', { hasText: 'visible' }).waitFor({ timeout: 5_000 });
    const text = await page.locator('body').innerText();
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('sekret-123');
    expect(text).not.toContain('hunter2');
    await page.close();
    await runtime.stop('secret-1');
  });

  it('at 800 px: one column, a deep link opens a session, and its actions work (send, pin, unpin, evict, stop)', async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 1000 } });
    await page.goto(`${url}#session=light-5`);
    await page.locator('#detail h2', { hasText: 'Session light-5' }).waitFor({ timeout: 10_000 });
    // One column: the session panel sits below the sessions table, not over it.
    const table = (await page.locator('#sessions').boundingBox())!;
    const detail = (await page.locator('#detail').boundingBox())!;
    expect(detail.y).toBeGreaterThanOrEqual(table.y + table.height);
    expect(await page.locator('#sessions th', { hasText: 'kind' }).count()).toBe(1);

    const result = page.locator('#action-result');
    await page.locator('#event-json').fill('{"type":"NEXT"}');
    await page.locator('button[data-action="send"]').click();
    await page.locator('#detail-value', { hasText: 'green' }).waitFor({ timeout: 5_000 });
    expect((await runtime.getSnapshot('light-5')).value).toBe('green');

    await page.locator('button[data-action="pin"]').click();
    await expect.poll(() => runtime.peek('light-5')?.pinned, { timeout: 5_000 }).toBe(true);
    await page.locator('button[data-action="evict"]').click();
    await result.filter({ hasText: 'pinned; unpin it first' }).waitFor({ timeout: 5_000 });
    await page.locator('button[data-action="unpin"]').click();
    await expect.poll(() => runtime.peek('light-5')?.pinned, { timeout: 5_000 }).toBe(false);
    await page.locator('button[data-action="evict"]').click();
    await expect.poll(() => runtime.peek('light-5')?.status, { timeout: 5_000 }).toBe('evicted');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}inspector-800.png`, fullPage: true });

    await page.goto(`${url}#session=light-6`);
    await page.locator('#detail h2', { hasText: 'Session light-6' }).waitFor({ timeout: 10_000 });
    await page.locator('button[data-action="stop"]').click();
    await expect.poll(() => runtime.peek('light-6'), { timeout: 5_000 }).toBeUndefined();
    await page.close();

    const wide = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await wide.goto(`${url}#session=light-7`);
    await wide.locator('#detail h2', { hasText: 'Session light-7' }).waitFor({ timeout: 10_000 });
    // Two columns: the panel beside the table.
    const wideTable = (await wide.locator('#sessions').boundingBox())!;
    const wideDetail = (await wide.locator('#detail').boundingBox())!;
    expect(wideDetail.x).toBeGreaterThanOrEqual(wideTable.x + wideTable.width - 1);
    await wide.screenshot({ path: `${ARTIFACTS}inspector-1280.png`, fullPage: true });
    await wide.close();
  });

  it('the event history shows internal events too: a timer that fired', async () => {
    await runtime.spawn('alarm', { id: 'alarm-1', pool: 'lights' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${url}#session=alarm-1`);
    await page.locator('#detail h2', { hasText: 'Session alarm-1' }).waitFor({ timeout: 10_000 });
    // Give the watch a moment to reach the worker before the timer is armed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await runtime.send('alarm-1', { type: 'ARM', ms: 100 });
    await page.locator('#events', { hasText: '(internal) {"type":"xstate.after.wait.alarm.waiting"}' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#events').textContent()).toContain('{"type":"ARM","ms":100}');
    await page.close();
    await runtime.stop('alarm-1');
  });
});
