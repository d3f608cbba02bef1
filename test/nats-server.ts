// NATS servers for the fleet's tests: Debian's nats-server on a free port of 127.0.0.1 with
// JetStream in a temporary directory, killed by pid when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts one JetStream server; resolves once it is ready to serve. `restart` kills it (SIGKILL) and starts it again on the same port and directory. */
export async function startNats(): Promise<NatsServer & { restart(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'actorhost-nats-'));
  let child = await launch(port, dir);
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    async restart() {
      await kill();
      child = await launch(port, dir);
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A three-node JetStream cluster (routes between the nodes, for replicas 3). */
export interface NatsCluster {
  /** Every node's client URL. */
  servers: string[];
  pids(): number[];
  /** Kills node `index` (SIGKILL) and starts it again on its port and directory; resolves once the cluster serves JetStream again. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsCluster(): Promise<NatsCluster> {
  const nodes = await Promise.all(
    [0, 1, 2].map(async (index) => ({ index, port: await freePort(), clusterPort: await freePort(), dir: mkdtempSync(join(tmpdir(), `actorhost-nats-${index}-`)) })),
  );
  const routes = nodes.map((node) => `nats://127.0.0.1:${node.clusterPort}`).join(',');
  const args = (node: (typeof nodes)[number]) => [
    ...['-a', '127.0.0.1', '-p', String(node.port), '-js', '-sd', node.dir, '-n', `node-${node.index}`],
    ...['--cluster_name', 'actorhost-test', '--cluster', `nats://127.0.0.1:${node.clusterPort}`, '--routes', routes],
  ];
  const children = await Promise.all(nodes.map((node) => launch(node.port, node.dir, args(node))));
  const servers = nodes.map((node) => `nats://127.0.0.1:${node.port}`);
  const kill = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const cluster: NatsCluster = {
    servers,
    pids: () => children.map((child) => child.pid!),
    async restart(index) {
      await kill(children[index]!);
      children[index] = await launch(nodes[index]!.port, nodes[index]!.dir, args(nodes[index]!));
      await jetStreamReady(servers);
    },
    async stop() {
      await Promise.all(children.map(kill));
      for (const node of nodes) rmSync(node.dir, { recursive: true, force: true });
    },
  };
  try {
    await jetStreamReady(servers);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Waits until the cluster has elected its JetStream leader and serves JetStream requests. */
async function jetStreamReady(servers: string[]): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  try {
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        return;
      } catch (error) {
        if (performance.now() > deadline) throw new Error(`the NATS cluster did not serve JetStream within 30 s: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

async function launch(port: number, dir: string, args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]): Promise<ChildProcess> {
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server did not start within 10 s:\n${log}`));
    }, 10_000);
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}):\n${log}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      if (log.includes('Server is ready')) return;
      log += String(chunk);
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return child;
}
