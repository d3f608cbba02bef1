// docs/api.md's examples run as written, in a fresh project, and print what they say they print.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'actorhost-docs-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

const doc = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
const files = [...doc.matchAll(/```js file=(\S+)\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!] as const);
const runnable = [...doc.matchAll(/```js run\n([\s\S]*?)```/g)].map((m) => m[1]!);

writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'docs-examples', type: 'module' }));
for (const [name, text] of files) writeFileSync(join(project, name), text);
mkdirSync(join(project, 'node_modules'));
symlinkSync(root, join(project, 'node_modules', 'actorhost'));
for (const dependency of ['xstate', 'pino']) symlinkSync(join(root, 'node_modules', dependency), join(project, 'node_modules', dependency));

/** What an example says it prints: the `// prints:` comment and the lines under it. */
function expectedOutput(example: string): string[] {
  const lines = example.split('\n');
  const start = lines.findIndex((line) => line.startsWith('// prints: '));
  return lines.slice(start).map((line) => line.replace(/^\/\/ (prints: |\s{8})/, '').trim()).filter(Boolean);
}

describe('docs/api.md examples', () => {
  it('has runnable examples', () => {
    expect(files.map(([name]) => name)).toEqual(['counter.machine.js']);
    expect(runnable.length).toBeGreaterThanOrEqual(3);
  });

  it.each(runnable.map((example, index) => [index + 1, example] as const))('example %i runs and prints what it says', async (index, example) => {
    const file = join(project, `example-${index}.mjs`);
    writeFileSync(file, example);
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [file], { cwd: project, timeout: 30_000 }, (error, out) => (error ? reject(error) : resolve(out))),
    );
    expect(stdout.trim().split('\n')).toEqual(expectedOutput(example));
  });
});
