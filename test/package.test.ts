// The package `npm pack` makes is whole: installed from its tarball into a fresh project (not a
// link to this checkout), the README's quick start runs, `require` loads it, and a TypeScript file
// type-checks against its declarations.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'actorhost-package-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string, timeout = 180_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(command, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, output: `${stdout}${stderr}` }),
    ),
  );
}

function quickStartFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const files = new Map<string, string>();
  for (const match of readme.matchAll(/```js file=(\S+)\n([\s\S]*?)```/g)) files.set(match[1]!, match[2]!);
  return files;
}

describe('the packed package', () => {
  it('installs from its tarball and runs the quick start, require, and TypeScript against its types', async () => {
    // dist/ is built by `npm test`; packing must not rebuild it under the running tests.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], root);
    expect(packed.code, packed.output).toBe(0);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))!;
    const project = join(work, 'project');
    await run('mkdir', ['-p', project], work);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-host', type: 'module' }));
    const installed = await run('npm', ['install', join(work, tarball), 'xstate@5', '--prefer-offline', '--no-audit', '--no-fund'], project);
    expect(installed.code, installed.output).toBe(0);

    // The quick start, as the README writes it.
    for (const [name, text] of quickStartFiles()) writeFileSync(join(project, name), text);
    const host = await run(process.execPath, ['host.js'], project, 30_000);
    expect(host.output).toContain('counting 42');

    // CommonJS on Node ≥ 20.19 (require of an ES module).
    const required = await run(process.execPath, ['-e', "const a = require('actorhost'); console.log(typeof a.createRuntime)"], project, 30_000);
    expect(required.output.trim()).toBe('function');

    // Its declarations: typed kinds check what they should.
    writeFileSync(
      join(project, 'check.ts'),
      `import { createRuntime, kind } from 'actorhost';
import type machine from './counter.machine.js';
const runtime = await createRuntime({ machines: { counter: kind<typeof machine>(new URL('./counter.machine.js', import.meta.url)) }, store: 'memory' });
// @ts-expect-error: not a kind of this runtime
await runtime.spawn('countr', { id: 'x' });
await runtime.shutdown();
`,
    );
    writeFileSync(join(project, 'counter.machine.d.ts'), "declare const machine: import('xstate').AnyStateMachine;\nexport default machine;\n");
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const typed = await run(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), 'check.ts'],
      project,
    );
    expect(typed.output).toBe('');
    expect(typed.code).toBe(0);
  }, 240_000);
});
