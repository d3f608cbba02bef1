// The benchmark must keep running: a small run of every scenario writes the JSON, the markdown
// table and the HTML report with its charts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const RUN = new URL('../dist/bench/run.js', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'actorhost-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('runs every scenario beside its baselines and writes the report', { timeout: 300_000 }, async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          '--expose-gc',
          RUN,
          ...['--sessions', '300', '--events', '20000', '--samples', '20'],
          ...['--heavy-sessions', '50', '--heavy-events', '500', '--storm-sessions', '100', '--storm-events', '3000', '--storm-kills', '2'],
          ...['--recovery-sessions', '200', '--churn-capacity', '50', '--churn-accesses', '2000'],
          ...['--journal-events', '5000', '--rollback-events', '5000', '--lru-sessions', '1000'],
          ...['--ipc-requests', '5000', '--inspect-events', '5000', '--page-sessions', '500'],
          ...['--churn-sessions', '2000', '--walker-events', '20000', '--busy-events', '5000', '--orphan-sessions', '4', '--ask-samples', '20', '--asks', '2000'],
          ...['--turn-sizes', '100', '--turns', '400', '--turn-concurrency', '20'],
          ...['--fleet-samples', '20', '--fleet-sends', '500', '--fleet-kills', '1', '--fleet-events', '2000'],
          ...['--out', `${out}/`],
        ],
        { timeout: 300_000 },
        (error, output) => (error ? reject(error) : resolve(output)),
      ),
    );
    for (const row of ['| trivial events/s |', '| events/s |', '| accepted events lost | 0 | 0 | yes |', '| recovery, 200 sessions on the shard |', '| requests/s, pipelined (256 in flight) |', '| inspector page request, 500 sessions |', '| host heap + external after 2,000 spawn/stop (after GC) |', '| walker per event (check, copy, size) |', '| turns/s |', '| turn latency p50 (message sent → DONE answered) |', '| send p50: through a non-owner host (routed) vs its owner |', '| kill -9 of a host → its sessions answering again (lease 3,000 ms;']) {
      expect(stdout).toContain(row);
    }
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      core: Record<string, Record<string, { eventsPerSec: number; bytesPerIdleSession: number; latencyP50Us: number }>>;
      cpu: { actorhost: number; inProcess: number };
      storm: { lost: number; recoveriesMs: number[] };
    };
    expect(Object.keys(report.core['300']!)).toEqual(['actorhost', 'durable', 'inProcess', 'rawWorkers']);
    for (const result of Object.values(report.core['300']!)) {
      expect(result.eventsPerSec).toBeGreaterThan(0);
      expect(result.bytesPerIdleSession).toBeGreaterThan(0);
      expect(result.latencyP50Us).toBeGreaterThan(0);
    }
    expect(report.cpu.actorhost).toBeGreaterThan(0);
    const turn = (report as unknown as { turn: Record<string, Record<string, { turnsPerSec: number; turnP50Ms: number }>> }).turn['100']!;
    expect(Object.keys(turn)).toEqual(['actorhost', 'durable', 'inProcess', 'rawWorkers']);
    for (const result of Object.values(turn)) expect(result.turnsPerSec).toBeGreaterThan(0);
    expect(report.storm).toMatchObject({ lost: 0 });
    const fleet = (report as unknown as { fleet: { routing: { routedP50Us: number }; takeover: { answeredMs: number[] }; oneHost: number; threeHosts: number } }).fleet;
    expect(fleet.routing.routedP50Us).toBeGreaterThan(0);
    expect(fleet.takeover.answeredMs.length).toBeGreaterThan(0);
    expect(fleet.oneHost).toBeGreaterThan(0);
    expect(fleet.threeHosts).toBeGreaterThan(0);
    expect(report.storm.recoveriesMs).toHaveLength(2);
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('### Core — 300 sessions');
    const html = readFileSync(join(out, 'latest.html'), 'utf8');
    expect(html.match(/<svg /g)?.length).toBe(3);
    expect(html).not.toMatch(/(src|href)="https?:/);
    // The page says what the run was made on and with.
    expect(html).toMatch(/<dt>commit<\/dt><dd>[0-9a-f]{7}/);
    expect(html).toMatch(/<dt>machine<\/dt><dd>\d+ × /);
    expect((report as unknown as { commit: string }).commit).toMatch(/^[0-9a-f]{7}/);
  });
});
