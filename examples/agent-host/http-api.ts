// The example host's HTTP API: what an agent server would put in front of its sessions.
//
//   POST   /sessions                 { id?, pool? }  → 201 { id }
//   GET    /sessions?offset=0&limit=100              → 200 { total, offset, limit, sessions: [session info…] }
//   GET    /sessions/:id                             → 200 { info, value, context }
//   POST   /sessions/:id/messages    { text }        → 202
//   DELETE /sessions/:id                             → 204, once the session has shut down
//   GET    /metrics                                  → 200 the runtime's metrics, for Prometheus
//   WS     /sessions/:id/stream                      → the current snapshot, then one JSON message per snapshot
//
// Every request carries the API token (`authorization: Bearer <token>`, or `?token=` on the
// stream, which a browser's WebSocket cannot give a header); a request from a web page of another
// origin is refused (403), so a page the operator happens to open cannot drive the host.
// Bad requests get a 4xx with { error: { code, message } }; nothing a client sends crashes the host.
// Responses and streams show a session's context with its IPC token redacted.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { createGuardedServer, decodeSegment, guardWebSocket, parseTarget, refuseUpgrade } from '../../src/internal.js';
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

/** Serves the metrics page (the Prometheus exporter's request handler). */
export type MetricsHandler = (request: IncomingMessage, response: ServerResponse) => void;

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

/** The context without secrets: the session's IPC token is shown as '[redacted]'. */
function redact(context: unknown): unknown {
  const ipc = (context as { ipc?: { token?: unknown } } | null)?.ipc;
  if (!ipc || typeof ipc !== 'object' || !('token' in ipc)) return context;
  return { ...(context as object), ipc: { ...ipc, token: '[redacted]' } };
}

function reply(response: ServerResponse, status: number, body?: unknown): void {
  if (response.headersSent) return;
  if (body === undefined) response.writeHead(status).end();
  else response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function serveApi(
  runtime: Runtime,
  ipc: IpcServer,
  {
    port,
    pool,
    maxSessions,
    logger,
    metrics,
    token = randomBytes(16).toString('hex'),
  }: { port: number; pool: string; maxSessions: number; logger: Logger; metrics?: MetricsHandler; token?: string },
): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const expected = Buffer.from(token);
  const spawnAgent = async (id: string, poolName: string) => {
    const { sessions, evicted } = runtime.stats();
    if (sessions + evicted >= maxSessions) {
      throw new HttpError(429, 'ERR_TOO_MANY_SESSIONS', `this host keeps at most ${maxSessions} sessions (--max-sessions); stop one first`);
    }
    await runtime.spawn('agent', { id, pool: poolName, input: { ipc: { address: ipc.address, token: ipc.issueToken(id) } } });
  };

  /** Checks the token and the origin; throws the HttpError to answer, if any. */
  const admit = (request: IncomingMessage, url: URL) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host}`) {
      throw new HttpError(403, 'ERR_ORIGIN', `requests from ${origin} are not allowed; call the API from a script, not a web page`);
    }
    const header = request.headers.authorization;
    const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, 'ERR_UNAUTHORIZED', 'send the API token printed at start-up: authorization: Bearer <token>');
    }
  };

  /** The route's parts; a malformed target or percent-encoding is a 400. */
  const route = (request: IncomingMessage) => {
    const url = parseTarget(request);
    if (!url) throw new HttpError(400, 'ERR_BAD_TARGET', 'the request target is not a valid URL path');
    const [, collection, rawId, sub] = url.pathname.split('/');
    const id = rawId === undefined ? undefined : decodeSegment(rawId);
    if (id === undefined && rawId !== undefined) throw new HttpError(400, 'ERR_BAD_TARGET', 'the session id is not valid percent-encoding');
    return { url, collection, id, sub };
  };

  const routes = async (request: IncomingMessage, response: ServerResponse) => {
    const { url, collection, id, sub } = route(request);
    if (collection === 'metrics' && id === undefined && metrics) {
      admit(request, url);
      if (request.method !== 'GET') throw new HttpError(405, 'ERR_METHOD', `${request.method} is not supported on /metrics`);
      return metrics(request, response);
    }
    if (collection !== 'sessions') throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${request.method} ${url.pathname}`);
    admit(request, url);
    if (id === undefined || id === '') {
      if (request.method === 'GET') {
        const offset = pageParam(url, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
        const limit = pageParam(url, 'limit', 1, 1_000, 100);
        const all = runtime.list();
        return reply(response, 200, { total: all.length, offset, limit, sessions: all.slice(offset, offset + limit) });
      }
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
        return reply(response, 200, { info: runtime.peek(id), value: snapshot.value, context: redact(snapshot.context) });
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

  const onRequest = (request: IncomingMessage, response: ServerResponse) =>
    routes(request, response).catch((error: unknown) => {
      const { status, code, message } = statusOf(error);
      reply(response, status, { error: { code, message } });
    });

  // Clients only listen on a stream; a frame larger than this is an error that closes it.
  const streams = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    let id: string;
    try {
      const target = route(request);
      if (target.collection !== 'sessions' || target.sub !== 'stream' || !target.id) throw new HttpError(404, 'ERR_NOT_FOUND', 'no such stream');
      admit(request, target.url);
      id = target.id;
    } catch (error) {
      const { status } = statusOf(error);
      refuseUpgrade(socket, `${status} ${STATUS_CODES[status]}`);
      return;
    }
    const live = runtime.peek(id);
    if (!live || live.status === 'evicted' || live.status === 'stopping') {
      refuseUpgrade(socket, '404 Not Found');
      return;
    }
    streams.handleUpgrade(request, socket, head, (client) => {
      guardWebSocket(client, logger);
      // The stream starts with the current snapshot; states seen meanwhile follow it, in order,
      // without repeating the one just sent.
      let last: string | undefined;
      let waiting: string[] | undefined = [];
      const send = (message: string) => {
        if (message !== last) client.send(message);
        last = message;
      };
      const message = (snapshot: { value: unknown; context: unknown }) => JSON.stringify({ value: snapshot.value, context: redact(snapshot.context) });
      try {
        const off = runtime.subscribe(id, {
          next: (snapshot) => (waiting ? waiting.push(message(snapshot)) : send(message(snapshot))),
          complete: () => client.close(1000, 'session ended'),
          error: () => client.close(1011, 'session crashed'),
        });
        client.on('close', off);
        runtime.getSnapshot(id).then(
          (snapshot) => {
            const queued = waiting ?? [];
            waiting = undefined;
            send(message(snapshot));
            for (const later of queued) send(later);
          },
          () => client.close(1011, 'session ended'),
        );
      } catch {
        client.close(1011, 'session ended');
      }
    });
  };
  const server = createGuardedServer({ onRequest, onUpgrade, logger });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    token,
    async close() {
      for (const client of streams.clients) client.terminate();
      await new Promise<void>((resolve) => streams.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A paging parameter: an integer within bounds, or a 400 that names it. */
function pageParam(url: URL, name: string, min: number, max: number, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new HttpError(400, 'ERR_BAD_REQUEST', `"${name}" must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return value;
}
