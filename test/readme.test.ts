// The README's quick start, pasted into a fresh project, must run as written.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'actorhost-quickstart-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** The README's code blocks that name a file: ```js file=NAME */
function quickStartFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const files = new Map<string, string>();
  for (const match of readme.matchAll(/```js file=(\S+)\n([\s\S]*?)```/g)) files.set(match[1]!, match[2]!);
  return files;
}

describe('README quick start', () => {
  it('runs when pasted into a fresh project', async () => {
    const files = quickStartFiles();
    expect([...files.keys()]).toEqual(['counter.machine.js', 'host.js']);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-host', type: 'module' }));
    for (const [name, text] of files) writeFileSync(join(project, name), text);
    // What `npm install xstate /path/to/actorhost` leaves: a link to the checkout, and xstate.
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(root, join(project, 'node_modules', 'actorhost'));
    symlinkSync(join(root, 'node_modules', 'xstate'), join(project, 'node_modules', 'xstate'));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['host.js'], { cwd: project, timeout: 20_000 }, (error, out) =>
        error ? reject(error) : resolve(out),
      ),
    );
    expect(stdout).toContain('counting 42');
    expect(stdout).toMatch(/id: 'c-1'/);
    // Pasted and run again: the same output (the stored 'c-1' is replaced).
    const again = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['host.js'], { cwd: project, timeout: 20_000 }, (error, out) =>
        error ? reject(error) : resolve(out),
      ),
    );
    expect(again).toContain('counting 42');
  });
});
