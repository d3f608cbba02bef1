// The example host that `npm start` runs: it must serve, report, and exit by itself on Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../dist/examples/agent-host/main.js', import.meta.url).pathname;
const storeDir = mkdtempSync(join(tmpdir(), 'actorhost-example-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

function run(args: string[]): { output: () => string; exited: Promise<number | null>; kill(signal: NodeJS.Signals): void } {
  const child = spawn(process.execPath, [MAIN, '--inspector-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void exited.then(() => clearTimeout(guard));
  return { output: () => output, exited, kill: (signal) => child.kill(signal) };
}

describe('example agent host', () => {
  it('spawns its sessions on both workers, prints a status line a second, and exits after --duration', async () => {
    const host = run(['--sessions', '200', '--rate', '200', '--duration', '2.5', '--store', join(storeDir, 'a')]);
    expect(await host.exited).toBe(0);
    const output = host.output();
    expect(output).toContain('spawned 200 sessions');
    expect(output).toMatch(/inspector: http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/);
    expect(output).toContain('0 resumed from the store');
    const lines = output.split('\n').filter((line) => line.startsWith('sessions 200'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/shard 0: 100, shard 1: 100/);
    expect(lines.at(-1)).toMatch(/events\/s [1-9]\d*/);
    expect(output).toMatch(/shut down in \d+ ms/);
  });

  it('shuts down cleanly and exits by itself on Ctrl-C (SIGINT)', async () => {
    const host = run(['--sessions', '100', '--store', join(storeDir, 'b')]);
    while (!host.output().includes('sessions 100')) await new Promise((resolve) => setTimeout(resolve, 50));
    host.kill('SIGINT');
    expect(await host.exited).toBe(0);
    expect(host.output()).toMatch(/Ctrl-C: shutting down 100 sessions/);
    expect(host.output()).toMatch(/shut down in \d+ ms/);
  });

  it('resumes the sessions of its previous run from the embedded store', async () => {
    const store = join(storeDir, 'c');
    const first = run(['--sessions', '50', '--rate', '100', '--duration', '1.5', '--store', store]);
    expect(await first.exited).toBe(0);
    const second = run(['--sessions', '50', '--rate', '100', '--duration', '1.5', '--store', store]);
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('spawned 0 sessions');
    expect(second.output()).toContain('50 resumed from the store');
    // Turns reach the resumed sessions: they are reactivated, none refused.
    expect(second.output()).toMatch(/sessions [1-9]\d* .*refused 0/);
  });
});
