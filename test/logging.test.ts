// The default logger is quiet: nothing in the user's stdout, warnings and errors on stderr.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const HOST = new URL('../dist/test/fixtures/quiet-host.js', import.meta.url).pathname;

describe('the default logger', () => {
  it('writes nothing to stdout, and warnings to stderr as JSON named actorhost', async () => {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, [HOST], { timeout: 60_000 }, (error, out, err) => (error ? reject(error) : resolve({ stdout: out, stderr: err }))),
    );
    expect(stdout).toBe('count 1\n');
    const records = stderr.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; name: string; msg: string });
    expect(records.map((record) => record.msg)).toContain('pool over capacity: every eviction candidate is pinned, busy, or inside the recency floor');
    // Warnings (40) and errors (50) only: no info lines such as 'actorhost runtime started'.
    expect(records.every((record) => record.level >= 40 && record.name === 'actorhost')).toBe(true);
  });
});
