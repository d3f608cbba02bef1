// The example host's HTTP API: what an agent server would put in front of its sessions.
//
//   POST   /sessions                 { id?, pool? }  → 201 { id }
//   GET    /sessions                                 → 200 [session info…]
//   GET    /sessions/:id                             → 200 { info, value, context }
//   POST   /sessions/:id/messages    { text }        → 202
//   DELETE /sessions/:id                             → 204, once the session has shut down
//   WS     /sessions/:id/stream                      → one JSON message per snapshot
//
// Bad requests get a 4xx with { error: { code, message } }; nothing a client sends crashes the host.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
import {
  ActorhostError,
  DuplicateSessionError,
  InvalidEventError,
  InvalidOptionError,
  MailboxFullError,
  PoolFullError,
  RuntimeClosedError,
  UnknownSessionError,
  type IpcServer,
  type Runtime,
} from '../../src/index.js';

const MAX_BODY_BYTES = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function statusOf(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ActorhostError ? error.code : 'ERR_INTERNAL';
  if (error instanceof UnknownSessionError) return { status: 404, code, message };
  if (error instanceof DuplicateSessionError) return { status: 409, code, message };
  if (error instanceof InvalidEventError || error instanceof InvalidOptionError) return { status: 400, code, message };
  if (error instanceof MailboxFullError) return { status: 429, code, message };
  if (error instanceof PoolFullError || error instanceof RuntimeClosedError) return { status: 503, code, message };
  return { status: 500, code, message };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`);
  }
  if (body === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'ERR_BAD_JSON', 'the body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HttpError(400, 'ERR_BAD_JSON', 'the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function reply(response: ServerResponse, status: number, body?: unknown): void {
  if (response.headersSent) return;
  if (body === undefined) response.writeHead(status).end();
  else response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function serveApi(
  runtime: Runtime,
  ipc: IpcServer,
  { port, pool }: { port: number; pool: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const spawnAgent = async (id: string, poolName: string) => {
    await runtime.spawn('agent', { id, pool: poolName, input: { ipc: { address: ipc.address, token: ipc.issueToken(id) } } });
  };

  const routes = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://api');
    const [, collection, rawId, sub] = url.pathname.split('/');
    if (collection !== 'sessions') throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${request.method} ${url.pathname}`);
    const id = rawId === undefined ? undefined : decodeURIComponent(rawId);
    if (id === undefined || id === '') {
      if (request.method === 'GET') return reply(response, 200, runtime.list());
      if (request.method === 'POST') {
        const body = await readJson(request);
        if (body.id !== undefined && typeof body.id !== 'string') throw new HttpError(400, 'ERR_BAD_REQUEST', '"id" must be a string');
        if (body.pool !== undefined && typeof body.pool !== 'string') throw new HttpError(400, 'ERR_BAD_REQUEST', '"pool" must be a string');
        const newId = (body.id as string | undefined) ?? randomUUID();
        await spawnAgent(newId, (body.pool as string | undefined) ?? pool);
        return reply(response, 201, { id: newId });
      }
    } else if (sub === undefined) {
      if (request.method === 'GET') {
        const snapshot = await runtime.getSnapshot(id);
        return reply(response, 200, { info: runtime.peek(id), value: snapshot.value, context: snapshot.context });
      }
      if (request.method === 'DELETE') {
        await runtime.stop(id);
        return reply(response, 204);
      }
    } else if (sub === 'messages' && request.method === 'POST') {
      const body = await readJson(request);
      if (typeof body.text !== 'string') throw new HttpError(400, 'ERR_BAD_REQUEST', 'a message needs a string "text"');
      await runtime.send(id, { type: 'USER_MESSAGE', text: body.text });
      return reply(response, 202);
    }
    throw new HttpError(405, 'ERR_METHOD', `${request.method} is not supported on ${url.pathname}`);
  };

  const server: Server = createServer((request, response) => {
    routes(request, response).catch((error: unknown) => {
      const { status, code, message } = statusOf(error);
      reply(response, status, { error: { code, message } });
    });
  });

  const streams = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    const [, collection, rawId, sub] = new URL(request.url ?? '/', 'http://api').pathname.split('/');
    const id = rawId ? decodeURIComponent(rawId) : '';
    const live = runtime.peek(id);
    if (collection !== 'sessions' || sub !== 'stream' || !live || live.status === 'evicted' || live.status === 'stopping') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    streams.handleUpgrade(request, socket, head, (client) => {
      try {
        const off = runtime.subscribe(id, {
          next: (snapshot) => client.send(JSON.stringify({ value: snapshot.value, context: snapshot.context })),
          complete: () => client.close(1000, 'session ended'),
          error: () => client.close(1011, 'session crashed'),
        });
        client.on('close', off);
      } catch {
        client.close(1011, 'session ended');
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      for (const client of streams.clients) client.terminate();
      await new Promise<void>((resolve) => streams.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
