/**
 * actorhost's own inspector: an HTTP page and a WebSocket feed, on 127.0.0.1 by default, behind a
 * random access token.
 *
 * Contract:
 * - Every request — the page and the WebSocket upgrade — must carry the token: `?token=<token>`, or
 *   the cookie the page's first answer sets (HttpOnly, SameSite=Strict), so the page can drop the
 *   token from its URL. Without it the answer is 401 and nothing else.
 * - What it shows of a session's context and events is redacted: values under a key in `redact`
 *   (default: token, password, secret, authorization, apiKey; any case) are `[redacted]`.
 * - Nothing it reads counts as activity (no LRU touch): it uses the runtime's inspector view.
 * - Feed (server → page): `summary` every 500 ms (shards, pools, totals, recent failures); `page`
 *   in answer to `{ type: 'page', offset, limit, pool?, status?, search? }` — the table is paged on
 *   the server, so 100,000 sessions cost the page 50 rows; `session` in answer to
 *   `{ type: 'watch', id }`, then again on each of its snapshots and accepted events.
 * - The page is served by the library itself (no CDN, nothing fetched at run time).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { unref, type Clock } from '../options.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { createGuardedServer, guardWebSocket, parseTarget, refuseUpgrade, type ServerLimits } from './http-guard.js';
import { INSPECTOR_PAGE } from './inspector-page.js';
import type { InspectorApi } from '../runtime.js';

const SUMMARY_MS = 500;
const COOKIE = 'actorhost_inspector';
/** Keys whose values the inspector never shows (any case): the connection machine's token among them. */
export const DEFAULT_REDACT = ['token', 'password', 'secret', 'authorization', 'apiKey'];
const RECENT_EVENTS = 50;
/** The page sends small requests; a larger frame is an error that closes its socket. */
const MAX_FRAME_BYTES = 16 * 1024;

export async function serveInspector(
  api: InspectorApi,
  { port = 0, host = '127.0.0.1', limits, redact = DEFAULT_REDACT }: { port?: number; host?: string; limits?: ServerLimits; redact?: readonly string[] },
  logger: Logger,
  clock: Clock,
): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const token = randomBytes(24).toString('hex');
  const expected = Buffer.from(token);
  const cookie = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
  const authorized = (target: URL | undefined, request: IncomingMessage) => {
    const fromCookie = /(?:^|;\s*)actorhost_inspector=([0-9a-f]+)/.exec(request.headers.cookie ?? '')?.[1];
    const given = Buffer.from(target?.searchParams.get('token') ?? fromCookie ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const hidden = new Set(redact.map((key) => key.toLowerCase()));

  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    const target = parseTarget(request);
    if (!target) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('400: malformed request target\n');
      return;
    }
    if (!authorized(target, request)) {
      response.writeHead(401, { 'content-type': 'text/plain' }).end('401: this inspector needs its ?token=… (printed when it started)\n');
      return;
    }
    const path = target.pathname;
    if (path !== '/' && path !== '/index.html') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('404\n');
      return;
    }
    response
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'self' 'unsafe-inline'; connect-src 'self'",
        'set-cookie': cookie,
        'referrer-policy': 'no-referrer',
      })
      .end(INSPECTOR_PAGE);
  };

  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!authorized(parseTarget(request), request)) {
      refuseUpgrade(socket, '401 Unauthorized');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (client) => {
      guardWebSocket(client, logger);
      serve(api, client, logger, clock, (value) => redactValue(value, hidden));
    });
  };
  const http = createGuardedServer({ onRequest, onUpgrade, logger, ...(limits ? { limits } : {}) });

  // On the runtime's clock: a summary every SUMMARY_MS while the server is open.
  let summary: unknown;
  const summarize = () => {
    const message = JSON.stringify({ type: 'summary', stats: api.stats(), failures: api.recentFailures().slice(-10) });
    for (const client of sockets.clients) client.send(message);
    summary = unref(clock.setTimeout(summarize, SUMMARY_MS));
  };
  summary = unref(clock.setTimeout(summarize, SUMMARY_MS));

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const address = http.address() as { port: number };
  const url = `http://${host}:${address.port}/?token=${token}`;
  return {
    url,
    token,
    async close() {
      clock.clearTimeout(summary);
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** One page connected: answers its requests, and streams the session it watches. */
function serve(api: InspectorApi, client: WebSocket, logger: Logger, clock: Clock, redact: (value: unknown) => unknown): void {
  let stopWatching: (() => void) | undefined;
  /** Pins this page holds, released when it disconnects. */
  const pins = new Map<string, () => void>();
  const send = (message: unknown) => {
    if (client.readyState === client.OPEN) client.send(JSON.stringify(message));
  };
  send({ type: 'summary', stats: api.stats(), failures: api.recentFailures().slice(-10) });
  client.on('message', (data) => {
    let request: { type?: string; offset?: number; limit?: number; pool?: string; status?: string; search?: string; id?: string; action?: string; event?: unknown };
    try {
      request = JSON.parse(String(data));
    } catch {
      return;
    }
    if (request.type === 'page') sendPage(api, request, send).catch((error: unknown) => logger.warn({ err: error }, 'inspector page request failed'));
    if (request.type === 'watch' && typeof request.id === 'string') {
      stopWatching?.();
      stopWatching = watch(api, request.id, send, clock.now, redact);
    }
    if (request.type === 'action' && typeof request.id === 'string') void act(api, request.id, String(request.action), request.event, pins).then((result) => send({ type: 'action', id: request.id, ...result }));
  });
  client.on('close', () => {
    stopWatching?.();
    for (const release of pins.values()) release();
  });
}

async function sendPage(
  api: InspectorApi,
  request: { offset?: number; limit?: number; pool?: string; status?: string; search?: string },
  send: (message: unknown) => void,
): Promise<void> {
  const limit = Math.min(200, Math.max(1, Number(request.limit) || 50));
  const offset = Math.max(0, Number(request.offset) || 0);
  const { rows, total } = api.page({
    offset,
    limit,
    ...(request.pool ? { pool: request.pool } : {}),
    ...(request.status ? { status: request.status as never } : {}),
    ...(request.search ? { search: request.search } : {}),
  });
  // State values only for the rows on the page: 50 snapshot reads, whatever the session count.
  const values = await Promise.all(rows.map((row) => api.peekSnapshot(row.id)));
  send({ type: 'page', offset, total, rows: rows.map((row, index) => ({ ...row, value: values[index]?.value })) });
}

function watch(api: InspectorApi, id: string, send: (message: unknown) => void, now: () => number, redact: (value: unknown) => unknown): () => void {
  const events: Array<{ at: number; event: unknown; internal?: boolean }> = [];
  const row = api.page({ offset: 0, limit: 1, search: id }).rows.find((candidate) => candidate.id === id);
  const chart = row ? api.chart(row.kind) : undefined;
  let latest: { value: unknown; context: unknown; status: string } | undefined;
  const push = () => send({ type: 'session', id, info: row, chart, snapshot: latest, events });
  void api.peekSnapshot(id).then((snapshot) => {
    latest = snapshot && { ...snapshot, context: redact(snapshot.context) };
    push();
  });
  const unsubscribe = api.watch(id, (snapshot) => {
    latest = { value: snapshot.value, context: redact(snapshot.context), status: snapshot.status };
    push();
  });
  const untap = api.tapEvents(id, (event, internal) => {
    events.push({ at: now(), event: redact(event), ...(internal ? { internal: true } : {}) });
    push();
    if (events.length > RECENT_EVENTS) events.shift();
  });
  return () => {
    unsubscribe?.();
    untap();
  };
}

/** An operator's action from the page (the page is behind the token): what happened, in words. */
async function act(api: InspectorApi, id: string, action: string, event: unknown, pins: Map<string, () => void>): Promise<{ ok: boolean; message: string }> {
  try {
    if (action === 'pin') {
      if (!pins.has(id)) pins.set(id, api.pin(id));
      return { ok: true, message: `pinned ${id}` };
    }
    if (action === 'unpin') {
      pins.get(id)?.();
      pins.delete(id);
      return { ok: true, message: `unpinned ${id}` };
    }
    if (action === 'stop' || action === 'evict' || action === 'send') return { ok: true, message: await api.act(action, id, event) };
    return { ok: false, message: `unknown action ${JSON.stringify(action)}` };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** A copy of `value` with every value under a hidden key replaced (cycles and depth bounded). */
export function redactValue(value: unknown, hidden: ReadonlySet<string>, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 16) return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, hidden, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = hidden.has(key.toLowerCase()) ? '[redacted]' : redactValue(item, hidden, depth + 1);
  return copy;
}
