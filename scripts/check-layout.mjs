// Part of `npm run lint`: the layout rules ESLint does not check (DESIGN.md "Layout").
// - No import circle among src/ modules (type-only imports are erased and do not count).
// - No source file over 400 lines (one concept a file).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname, 'src');
const MAX_LINES = 400;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) files.push(path);
  }
})(root);

const problems = [];
const graph = new Map();
const valueImport = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length;
  if (lines > MAX_LINES) problems.push(`${relative(root, file)} has ${lines} lines (at most ${MAX_LINES}: one concept a file)`);
  const targets = [];
  for (const match of text.matchAll(valueImport)) targets.push(resolve(dirname(file), match[1].replace(/\.js$/, '.ts')));
  graph.set(file, targets);
}

const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'visiting');
  stack.push(file);
  for (const target of graph.get(file) ?? []) {
    if (state.get(target) === 'visiting') {
      const cycle = stack.slice(stack.indexOf(target)).concat(target).map((path) => relative(root, path));
      problems.push(`import circle: ${cycle.join(' → ')}`);
    } else if (!state.has(target) && graph.has(target)) visit(target);
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of files) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  for (const problem of problems) process.stderr.write(`src/${problem}\n`);
  process.exit(1);
}
process.stdout.write(`layout: ${files.length} modules, no import circle, none over ${MAX_LINES} lines\n`);
