/**
 * `probeConnection`: one `initialize` round trip to an IPC server, resolved or rejected within
 * `timeoutMs` — never a hang, whether the socket is missing, the token wrong, or the server dead.
 */
import { connect } from 'node:net';
import { AuthError } from '../errors.js';
import { JsonRpcConnection, PROTOCOL_VERSION, RPC_UNAUTHORIZED, RequestTimeoutError, RpcError } from '../protocol/json-rpc.js';
import type { IpcAddress } from './connection.machine.js';

export interface ProbeResult {
  version: string;
  serverInfo: unknown;
  roundTripMs: number;
}

/**
 * @example
 * ```ts
 * import { probeConnection } from 'actorhost';
 * const { version } = await probeConnection(ipc.address, { token, timeoutMs: 1_000 });
 * ```
 */
export function probeConnection(address: IpcAddress, { token, timeoutMs = 2_000 }: { token: string; timeoutMs?: number }): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host ?? '127.0.0.1');
    const rpc = new JsonRpcConnection(socket);
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rpc.close('probe done');
      outcome();
    };
    const timer = setTimeout(() => settle(() => reject(new RequestTimeoutError('initialize', timeoutMs))), timeoutMs);
    rpc.onClose = (reason) => settle(() => reject(new Error(`IPC probe failed: ${reason}`)));
    socket.once('connect', () => {
      rpc.request('initialize', { token, version: PROTOCOL_VERSION }, timeoutMs).then(
        (result) => {
          const { version, serverInfo } = result as { version: string; serverInfo: unknown };
          settle(() => resolve({ version, serverInfo, roundTripMs: performance.now() - started }));
        },
        (error: Error) =>
          settle(() =>
            reject(error instanceof RpcError && error.rpcCode === RPC_UNAUTHORIZED ? new AuthError(error.message) : error),
          ),
      );
    });
  });
}
