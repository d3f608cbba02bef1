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
        ['--expose-gc', RUN, '--sessions', '300', '--events', '20000', '--samples', '20', '--out', `${out}/`],
        { timeout: 60_000 },
        (error, output) => (error ? reject(error) : resolve(output)),
      ),
    );
    expect(stdout).toContain('| trivial events/s |');
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      results: Record<string, { eventsPerSec: number; bytesPerIdleSession: number; latencyP50Us: number }>;
      targets: Record<string, boolean>;
    };
    expect(Object.keys(report.results)).toEqual(['actorhost', 'inProcess', 'rawWorkers']);
    for (const result of Object.values(report.results)) {
      expect(result.eventsPerSec).toBeGreaterThan(0);
      expect(result.bytesPerIdleSession).toBeGreaterThan(0);
      expect(result.latencyP50Us).toBeGreaterThan(0);
    }
    expect(Object.keys(report.targets)).toEqual(['eventsPerSec', 'latencyP50Us', 'loopDelayP99Ms', 'bytesPerIdleSession', 'spawnPerSec']);
  });
});
