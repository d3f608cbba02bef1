// Nothing a client sends to the inspector (or the example host's API) ends the host process:
// malformed request targets, malformed WebSocket frames, idle and slow clients.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, eventually, fixture, silentLogger, type Runtime } from './helpers.js';

let runtime: Runtime;
let url: string;
let port: number;
let token: string;

beforeAll(async () => {
  runtime = await createRuntime({ machines: { counter: fixture('counter') }, workers: 1, logger: silentLogger, store: 'memory' });
  await runtime.spawn('counter', { id: 'neighbour' });
  ({ url, token } = await runtime.serveInspector({ port: 0, limits: { headersTimeoutMs: 1_000, requestTimeoutMs: 1_000, maxConnections: 16 } }));
  port = Number(new URL(url).port);
});

afterAll(async () => {
  await runtime?.shutdown();
});

/** Writes raw bytes to the inspector's port; resolves with everything it answered before closing. */
function raw(bytes: string | Buffer, { waitMs = 3_000 } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(bytes);
  });
}

/** Opens an authenticated WebSocket by hand, so the test can then write any frame it likes. */
async function rawWebSocket(): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `GET /ws?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const head = await new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(chunk.toString('latin1'))));
  expect(head).toMatch(/^HTTP\/1\.1 101/);
  return socket;
}

async function stillServing(): Promise<void> {
  expect((await fetch(url)).status).toBe(200);
  await runtime.send('neighbour', { type: 'INC' });
  expect((await runtime.getSnapshot('neighbour')).context.count).toBeGreaterThan(0);
}

describe('the inspector under malformed input', () => {
  it.each([
    ['GET //x:99999/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['GET http://[/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['GET //x:99999/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'],
    ['GET http://[/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
  ])('answers a malformed request target without a token (%j) and keeps serving', async (request) => {
    const answer = await raw(request);
    expect(answer).toMatch(/^HTTP\/1\.1 (400|401)/);
    await stillServing();
  });

  it.each([
    ['a reserved opcode', Buffer.from([0x83, 0x80, 1, 2, 3, 4])],
    ['an unmasked frame', Buffer.from([0x81, 0x01, 0x41])],
    ['an oversized frame', Buffer.concat([Buffer.from([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0]), Buffer.from([1, 2, 3, 4])])],
  ])('closes a WebSocket that sends %s, and keeps serving', async (_name, frame) => {
    const socket = await rawWebSocket();
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(frame);
    await closed;
    await stillServing();
  });

  it('closes clients that send headers too slowly (slowloris), and serves others meanwhile', async () => {
    const slow = Array.from({ length: 8 }, () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.resume();
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      return socket;
    });
    await stillServing();
    // headersTimeoutMs is 1 s, checked every second: well within 10 s even on a slow machine.
    await eventually(() => slow.every((socket) => socket.destroyed || socket.readableEnded), 10_000);
    await stillServing();
  });

  it('refuses connections past maxConnections and serves again once they are gone', async () => {
    const idle = await Promise.all(
      Array.from({ length: 24 }, async () => {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.resume();
        await new Promise((resolve) => socket.once('connect', resolve));
        return socket;
      }),
    );
    // The server drops connections past its cap at accept: some of these are closed at once.
    await eventually(() => idle.filter((socket) => socket.destroyed || socket.readableEnded).length >= 8, 10_000);
    for (const socket of idle) socket.destroy();
    await eventually(async () => (await fetch(url).then((response) => response.status, () => 0)) === 200, 10_000);
  });
});
