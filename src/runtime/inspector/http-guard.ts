/**
 * One guard for every HTTP server actorhost runs (the inspector) and the example host's API.
 *
 * Contract: nothing a client sends ends the host process or holds its resources for long.
 * - A request or upgrade handler that throws (or rejects) answers 500 (or drops the socket);
 *   the error is logged, the server keeps serving.
 * - The request target is parsed with `parseTarget`, which never throws: a malformed target
 *   (`GET //x:99999/`, `GET http://[/`) is a 400, not an exception.
 * - Every socket has an `'error'` listener from the moment it connects, and every WebSocket from
 *   the moment it is accepted (`guardWebSocket`): a reset or a malformed frame (bad opcode,
 *   oversized, unmasked) closes that one connection. ws emits such frame errors on the
 *   WebSocket, and an `'error'` event with no listener is an uncaught exception in Node.
 * - Slow or idle clients are cut off: headers must arrive within `headersTimeoutMs`, a whole
 *   request within `requestTimeoutMs`, an idle keep-alive socket is closed after
 *   `idleTimeoutMs`, and at most `maxConnections` sockets are open at once (more are refused at
 *   accept). Node checks the header and request timeouts every `connectionsCheckingInterval`
 *   (30 s by default, which let a slowloris client hold a socket for 75–95 s): here every second.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

import type { ServerLimits } from '../types.js';
export type { ServerLimits } from '../types.js';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** An HTTP server whose handlers and sockets cannot throw into the process. */
export function createGuardedServer(
  { onRequest, onUpgrade, logger, limits = {} }: { onRequest: RequestHandler; onUpgrade?: UpgradeHandler; logger: Logger; limits?: ServerLimits },
): Server {
  const headersTimeout = limits.headersTimeoutMs ?? 5_000;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(limits.requestTimeoutMs ?? 10_000, headersTimeout),
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 1_000,
    },
    (request, response) => {
      const fail = (error: unknown) => {
        logger.error({ err: error, method: request.method }, 'HTTP handler failed; answered 500');
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain', connection: 'close' }).end('500: internal error\n');
        else response.destroy();
      };
      try {
        const done = onRequest(request, response);
        if (done) done.catch(fail);
      } catch (error) {
        fail(error);
      }
    },
  );
  server.maxConnections = limits.maxConnections ?? 64;
  const idleTimeoutMs = limits.idleTimeoutMs ?? 30_000;
  server.on('connection', (socket) => {
    socket.on('error', (error) => logger.debug({ err: error }, 'client socket error'));
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
  });
  server.on('clientError', (error, socket) => {
    // Node's default answer, kept, with the socket guarded: a 400 for a request it cannot parse.
    if (socket.writable && !(error as NodeJS.ErrnoException).code?.startsWith('ECONN')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    } else socket.destroy();
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (error) => logger.debug({ err: error }, 'upgrade socket error'));
    try {
      if (!onUpgrade) throw new Error('no upgrade handler');
      onUpgrade(request, socket, head);
    } catch (error) {
      logger.warn({ err: error }, 'upgrade handler failed; connection dropped');
      socket.destroy();
    }
  });
  return server;
}

/** The request's target as a URL, or `undefined` when it is malformed (never throws). */
export function parseTarget(request: IncomingMessage): URL | undefined {
  try {
    const url = new URL(request.url ?? '/', 'http://localhost');
    // A target in absolute form may name another host; only the path and query are ours to read.
    return url;
  } catch {
    return undefined;
  }
}

/** `decodeURIComponent` that answers `undefined` for a bad percent-encoding instead of throwing. */
export function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** What `guardWebSocket` needs of a `ws` WebSocket (structural: the package's types need no `@types/ws`). */
export interface GuardedWebSocket {
  on(event: 'error', listener: (error: Error) => void): unknown;
  terminate(): void;
}

/** Gives an accepted WebSocket an error listener and no idle timeout (its own pings keep it alive). */
export function guardWebSocket(client: GuardedWebSocket, logger: Logger): void {
  client.on('error', (error) => {
    logger.debug({ err: error }, 'WebSocket closed on a protocol error');
    client.terminate();
  });
}

/** Answers an upgrade it refuses, then closes the socket. */
export function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
