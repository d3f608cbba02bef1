// The benchmark must keep running: a small run writes a report with every subject and target.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const RUN = new URL('../dist/bench/run.js', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'actorhost-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('measures actorhost beside both baselines and writes the report', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          '--expose-gc',
          RUN,
          ...['--sessions', '300', '--events', '20000', '--samples', '20'],
          ...['--recovery-sessions', '200', '--churn-capacity', '50', '--churn-accesses', '2000'],
          ...['--journal-events', '5000', '--lru-sessions', '1000'],
          ...['--ipc-requests', '5000', '--inspect-events', '5000', '--page-sessions', '500'],
          ...['--out', `${out}/`],
        ],
        { timeout: 120_000 },
        (error, output) => (error ? reject(error) : resolve(output)),
      ),
    );
    expect(stdout).toContain('| trivial events/s |');
    expect(stdout).toContain('| recovery, 200 sessions on the shard |');
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      core: {
        results: Record<string, { eventsPerSec: number; bytesPerIdleSession: number; latencyP50Us: number }>;
        targets: Record<string, boolean>;
      };
      supervision: {
        recovery: Array<{ sessions: number; ms: number }>;
        churn: { hitRatio: number; evictionsPerSec: number };
        lru: { listNs: number; mapNs: number };
        journal: { journalEventsPerSec: number; noneEventsPerSec: number };
      };
    };
    expect(Object.keys(report.core.results)).toEqual(['actorhost', 'inProcess', 'rawWorkers']);
    for (const result of Object.values(report.core.results)) {
      expect(result.eventsPerSec).toBeGreaterThan(0);
      expect(result.bytesPerIdleSession).toBeGreaterThan(0);
      expect(result.latencyP50Us).toBeGreaterThan(0);
    }
    expect(Object.keys(report.core.targets)).toEqual(['eventsPerSec', 'latencyP50Us', 'loopDelayP99Ms', 'bytesPerIdleSession', 'spawnPerSec']);
    const { recovery, churn, lru, journal } = report.supervision;
    expect(recovery).toHaveLength(1);
    expect(recovery[0]!.ms).toBeGreaterThan(0);
    expect(churn.hitRatio).toBeGreaterThan(0);
    expect(churn.evictionsPerSec).toBeGreaterThan(0);
    expect(lru.listNs).toBeGreaterThan(0);
    expect(journal.journalEventsPerSec).toBeGreaterThan(0);
    expect(stdout).toContain('| requests/s, pipelined (256 in flight) |');
    expect(stdout).toContain('| inspector page request, 500 sessions |');
  });
});
