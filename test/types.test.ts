// Typed kinds: the compiler accepts what fits a machine and refuses what does not
// (test/types/kinds.typecheck.ts: every `@ts-expect-error` must be an error).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const PROJECT = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));

describe('typed kinds', () => {
  it('check kind names, inputs, events and snapshots at compile time', async () => {
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(process.execPath, [TSC, '-p', PROJECT], { timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 150_000);
});
