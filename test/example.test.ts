// The example agent host that `npm start` runs: it serves, reports, answers its API, and exits by
// itself on Ctrl-C with no subprocess left.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, processExists } from './helpers.js';

const MAIN = new URL('../dist/examples/agent-host/main.js', import.meta.url).pathname;
const storeDir = mkdtempSync(join(tmpdir(), 'actorhost-example-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

function run(args: string[]) {
  const child = spawn(process.execPath, [MAIN, '--inspector-port', '0', '--api-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(guard));
  return {
    output: () => output,
    exited,
    kill: (signal: NodeJS.Signals) => child.kill(signal),
    api: () => /api:\s+(\S+)\/sessions/.exec(output)?.[1],
    token: () => /Bearer ([0-9a-f]+)/.exec(output)?.[1],
    /** `fetch` with the API token the host printed. */
    fetch: (url: string, init: RequestInit = {}) =>
      fetch(url, { ...init, headers: { authorization: `Bearer ${/Bearer ([0-9a-f]+)/.exec(output)?.[1]}`, ...(init.headers as Record<string, string>) } }),
  };
}

function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.write(bytes);
  });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe('example agent host: its command line', () => {
  it('--help prints the flags and exits 0', async () => {
    const host = run(['--help']);
    expect(await host.exited).toBe(0);
    expect(host.output()).toMatch(/usage: npm start -- \[options\][\s\S]*--sessions N[\s\S]*--max-sessions N/);
  });

  it('a bad flag names the flag and its rule, exit code 2, no stack trace', async () => {
    for (const [args, message] of [
      [['--sessions', 'abc'], /--sessions must be an integer of at least 1 \(got "abc"\)/],
      [['--api-port', '70000'], /--api-port must be an integer of at least 0 and at most 65535/],
      [['--nope'], /Unknown option '--nope'/],
    ] as const) {
      const host = run([...args]);
      expect(await host.exited).toBe(2);
      expect(host.output()).toMatch(message);
      expect(host.output()).not.toMatch(/\n\s+at /);
    }
  });

  it('a port in use: says which flag, exit code 1, nothing left running', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const host = run(['--sessions', '2', '--rate', '0', '--store', 'memory', '--api-port', String(port)]);
      expect(await host.exited).toBe(1);
      expect(host.output()).toContain(`port ${port} is in use (--api-port); pick another, or 0 for any free port`);
      expect(host.output()).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('example agent host', () => {
  it('spawns its sessions on both workers, prints its URLs and a status line a second, and exits after --duration', async () => {
    const host = run(['--sessions', '40', '--rate', '80', '--duration', '2.5', '--store', join(storeDir, 'a')]);
    expect(await host.exited).toBe(0);
    const output = host.output();
    expect(output).toMatch(/inspector: http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/);
    expect(output).toMatch(/api:\s+http:\/\/127\.0\.0\.1:\d+\/sessions/);
    expect(output).toContain('spawned 40 sessions');
    const lines = output.split('\n').filter((line) => line.startsWith('sessions 40'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/shard 0: 20, shard 1: 20/);
    // Turns ran through the model subprocesses and were reported back over the IPC links.
    expect(lines.at(-1)).toMatch(/turns\/s [1-9]\d* \| ipc links 40 \| models 40 \|/);
    expect(output).toMatch(/shut down in \d+ ms/);
  });

  it('serves its HTTP API: create, message, read, stream, delete; bad requests get a 4xx with a JSON error', async () => {
    const host = run(['--sessions', '4', '--rate', '0', '--store', join(storeDir, 'api')]);
    await eventually(() => host.api() !== undefined && host.output().includes('spawned'), 20_000);
    const api = `${host.api()}/sessions`;
    try {
      expect((await host.fetch(api, { method: 'POST', body: JSON.stringify({ id: 'mine' }) })).status).toBe(201);
      const streamed: Array<{ value: unknown }> = [];
      const stream = new WebSocket(`${api.replace('http', 'ws')}/mine/stream?token=${host.token()}`);
      stream.on('message', (data) => streamed.push(JSON.parse(String(data)) as { value: unknown }));
      await new Promise((resolve) => stream.once('open', resolve));
      // The stream starts with the current snapshot (its model's start may follow at once).
      await eventually(() => streamed.length >= 1);
      expect(streamed[0]!.value).toMatchObject({ running: { turn: 'idle' } });
      // Paged: at most `limit` sessions, and the total.
      const page = await json(await host.fetch(`${api}?offset=1&limit=2`));
      expect(page).toMatchObject({ total: 5, offset: 1, limit: 2 });
      expect(page.sessions).toHaveLength(2);
      expect((await host.fetch(`${api}?limit=0`)).status).toBe(400);
      // Prometheus metrics, behind the same token; the counters move.
      const accepted = async () => {
        const text = await (await host.fetch(`${host.api()}/metrics`)).text();
        return Number(/^actorhost_events_accepted_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);
      };
      const before = await accepted();
      expect(before).toBeGreaterThanOrEqual(0);
      expect((await fetch(`${host.api()}/metrics`)).status).toBe(401);
      expect((await host.fetch(`${api}/mine/messages`, { method: 'POST', body: JSON.stringify({ text: 'hello' }) })).status).toBe(202);
      await eventually(async () => ((await json(await host.fetch(`${api}/mine`))).context as { turns: number }).turns === 1);
      expect(await accepted()).toBeGreaterThan(before);
      const state = await json(await host.fetch(`${api}/mine`));
      expect(state.context).toMatchObject({ turns: 1, lastMessage: 'hello', streamed: 8 });
      expect(streamed.length).toBeGreaterThan(2);
      const pid = (state.info as { pids: number[] }).pids[0]!;
      expect(processExists(pid)).toBe(true);

      const bad: Array<[string, RequestInit, number, string]> = [
        [api, { method: 'POST', body: '{not json' }, 400, 'ERR_BAD_JSON'],
        [api, { method: 'POST', body: JSON.stringify({ id: 'mine' }) }, 409, 'ERR_DUPLICATE_SESSION'],
        [api, { method: 'POST', body: JSON.stringify({ pool: 'nope' }) }, 400, 'ERR_INVALID_OPTION'],
        [`${api}/ghost`, { method: 'GET' }, 404, 'ERR_UNKNOWN_SESSION'],
        [`${api}/mine/messages`, { method: 'POST', body: JSON.stringify({ words: 'x' }) }, 400, 'ERR_BAD_REQUEST'],
        [`${api}/mine/messages`, { method: 'POST', body: 'x'.repeat(70_000) }, 413, 'ERR_BODY_TOO_LARGE'],
        [`${host.api()}/elsewhere`, { method: 'GET' }, 404, 'ERR_NOT_FOUND'],
        [`${api}/mine`, { method: 'PUT' }, 405, 'ERR_METHOD'],
      ];
      for (const [url, init, status, code] of bad) {
        const response = await host.fetch(url, init);
        expect([url, init.method, response.status]).toEqual([url, init.method, status]);
        expect(((await json(response)).error as { code: string }).code).toBe(code);
      }

      const refused = await new Promise<number>((resolve) => {
        const socket = new WebSocket(`${api.replace('http', 'ws')}/ghost/stream?token=${host.token()}`);
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', () => resolve(-1));
      });
      expect(refused).toBe(404);

      expect((await host.fetch(`${api}/mine`, { method: 'DELETE' })).status).toBe(204);
      expect(processExists(pid)).toBe(false);
      expect((await host.fetch(`${api}/mine`)).status).toBe(404);
      stream.close();
    } finally {
      host.kill('SIGINT');
      expect(await host.exited).toBe(0);
    }
  });

  it('refuses what a careless or hostile client sends, and keeps serving', async () => {
    const host = run(['--sessions', '2', '--rate', '0', '--max-sessions', '3', '--store', join(storeDir, 'hostile')]);
    await eventually(() => host.api() !== undefined && host.output().includes('spawned'), 20_000);
    const api = `${host.api()}/sessions`;
    const port = Number(new URL(api).port);
    try {
      const answers = await Promise.all([
        rawRequest(port, 'GET //x:99999/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        rawRequest(port, 'GET http://[/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      ]);
      for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 400/);
      expect((await host.fetch(`${api}/%E0%A4%A`)).status).toBe(400);
      expect((await fetch(api)).status).toBe(401);
      expect((await host.fetch(api, { method: 'POST', body: '{}', headers: { origin: 'http://evil.example' } })).status).toBe(403);
      const refusedOrigin = await new Promise<number>((resolve) => {
        const socket = new WebSocket(`${api.replace('http', 'ws')}/conv-0/stream?token=${host.token()}`, { origin: 'http://evil.example' });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', () => resolve(-1));
      });
      expect(refusedOrigin).toBe(403);
      // A malformed frame on a stream closes that stream only.
      const stream = new WebSocket(`${api.replace('http', 'ws')}/conv-0/stream?token=${host.token()}`);
      stream.on('error', () => {});
      await new Promise((resolve) => stream.once('open', resolve));
      const closed = new Promise((resolve) => stream.once('close', resolve));
      (stream as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
      await closed;
      // The context it shows has the IPC token redacted.
      const state = await json(await host.fetch(`${api}/conv-0`));
      expect((state.context as { ipc: { token: string } }).ipc.token).toBe('[redacted]');
      // --max-sessions 3: one more session, then 429.
      expect((await host.fetch(api, { method: 'POST', body: '{}' })).status).toBe(201);
      const over = await host.fetch(api, { method: 'POST', body: '{}' });
      expect(over.status).toBe(429);
      expect(((await json(over)).error as { code: string }).code).toBe('ERR_TOO_MANY_SESSIONS');
      expect((await host.fetch(`${api}/conv-1`)).status).toBe(200);
    } finally {
      host.kill('SIGINT');
      expect(await host.exited).toBe(0);
    }
  });

  it('shuts down cleanly on Ctrl-C (SIGINT): exits by itself, no subprocess left', async () => {
    const host = run(['--sessions', '20', '--store', join(storeDir, 'b')]);
    await eventually(() => host.output().includes('sessions 20'), 20_000);
    const sessions = (await json(await host.fetch(`${host.api()}/sessions/conv-0`))).info as { pids: number[] };
    const list = ((await (await host.fetch(`${host.api()}/sessions?limit=1000`)).json()) as { sessions: Array<{ pids: number[] }> }).sessions;
    const pids = list.flatMap((session) => session.pids);
    expect(pids.length).toBe(20);
    expect(sessions.pids.length).toBe(1);
    host.kill('SIGINT');
    expect(await host.exited).toBe(0);
    expect(host.output()).toMatch(/Ctrl-C: shutting down 20 sessions/);
    expect(pids.filter(processExists)).toEqual([]);
  });

  it('resumes the sessions of its previous run from the embedded store', async () => {
    const store = join(storeDir, 'c');
    const first = run(['--sessions', '20', '--rate', '40', '--duration', '1.5', '--store', store]);
    expect(await first.exited).toBe(0);
    const second = run(['--sessions', '20', '--rate', '40', '--duration', '2.5', '--store', store]);
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('spawned 0 sessions');
    expect(second.output()).toContain('20 resumed from the store');
    // Resumed sessions were handed a fresh token by the runtime: every one reconnected, none
    // restarted, and each runs one model process (not two).
    expect(second.output()).toMatch(/ipc links 20 \| models 20 \| refused 0 \| restarts 0/);
    expect(second.output()).not.toMatch(/models (?!20 )\d+/);
  });
});
