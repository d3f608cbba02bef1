// IPC scenario: JSON-RPC requests over one authenticated connection (the client the connection
// machine uses), beside a raw `net` line echo over the same kind of socket (a Unix socket).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { PROTOCOL_VERSION } from '../../src/index.js';
import { JsonRpcConnection, corkUntilNextTick } from '../../src/internal.js';
import { createIpcServer } from '../../src/index.js';
import { percentile } from '../measure.js';

export interface IpcResult {
  requestsPerSec: number;
  rttP50Us: number;
  rttP99Us: number;
}

interface Subject {
  request(payload: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** Pipelined throughput (`window` requests in flight), then sequential round trips. */
async function measure(subject: Subject, requests: number, window: number, samples: number): Promise<IpcResult> {
  for (let i = 0; i < 2_000; i++) await subject.request(i); // warm-up
  const started = performance.now();
  let sent = 0;
  const lane = async () => {
    while (sent < requests) {
      sent++;
      await subject.request(sent);
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const requestsPerSec = requests / ((performance.now() - started) / 1000);
  const rtts: number[] = [];
  for (let i = 0; i < samples; i++) {
    const at = performance.now();
    await subject.request(i);
    rtts.push((performance.now() - at) * 1000);
  }
  rtts.sort((a, b) => a - b);
  await subject.close();
  return { requestsPerSec, rttP50Us: percentile(rtts, 50), rttP99Us: percentile(rtts, 99) };
}

async function actorhostSubject(): Promise<Subject> {
  const ipc = await createIpcServer({ methods: { echo: (params) => params }, logger: pino({ level: 'silent' }) });
  const address = ipc.address as { path: string };
  const socket = connect(address.path);
  await new Promise((resolve) => socket.once('connect', resolve));
  const rpc = new JsonRpcConnection(socket);
  await rpc.request('initialize', { token: ipc.issueToken('bench'), version: PROTOCOL_VERSION }, 5_000);
  return {
    request: (payload) => rpc.request('echo', payload, 5_000),
    async close() {
      rpc.close('bench done');
      await ipc.close();
    },
  };
}

/**
 * The ceiling: a server that writes every byte straight back (no parsing), and a client matching
 * answers by order, batching the writes of one tick as actorhost's client does.
 */
async function rawEchoSubject(): Promise<Subject> {
  const dir = mkdtempSync(join(tmpdir(), 'actorhost-echo-'));
  const path = join(dir, 'echo.sock');
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const socket: Socket = connect(path);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setEncoding('utf8');
  const waiting: Array<(line: string) => void> = [];
  let buffered = '';
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) waiting.shift()?.(line);
  });
  let id = 0;
  return {
    request: (payload) =>
      new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line)));
        corkUntilNextTick(socket);
        socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'echo', params: payload })}\n`);
      }),
    async close() {
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function ipcThroughput(requests: number): Promise<{ actorhost: IpcResult; rawEcho: IpcResult }> {
  const actorhost = await measure(await actorhostSubject(), requests, 256, 2_000);
  const rawEcho = await measure(await rawEchoSubject(), requests, 256, 2_000);
  return { actorhost, rawEcho };
}
