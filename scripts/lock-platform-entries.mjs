// Restores package-lock.json entries for msgpackr-extract's prebuilt binaries of other platforms.
//
// Why: the registry this project is built against serves only the linux-x64 build of
// @msgpackr-extract/*; `npm install` then leaves the other platforms out of the lockfile, and
// `npm ci` refuses that lockfile ("Missing: @msgpackr-extract/msgpackr-extract-darwin-arm64@ from
// lock file"). The entries are optional and carry their os/cpu, so npm skips them on any other
// platform. Run after `npm install` changes the lockfile:  node scripts/lock-platform-entries.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'linux-arm': ['linux', 'arm'],
  'linux-arm64': ['linux', 'arm64'],
  'linux-x64': ['linux', 'x64'],
  'win32-x64': ['win32', 'x64'],
};
const PREFIX = '@msgpackr-extract/msgpackr-extract-';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  if (!path.endsWith('node_modules/msgpackr-extract')) continue;
  const base = path.slice(0, -'msgpackr-extract'.length);
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const platform = PLATFORMS[name.slice(PREFIX.length)];
    if (!platform || lock.packages[base + name]) continue;
    lock.packages[base + name] = { version, cpu: [platform[1]], license: 'MIT', optional: true, os: [platform[0]] };
    added++;
  }
}
const sorted = Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)));
lock.packages = Object.fromEntries(sorted);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`package-lock.json: ${added} platform entries added\n`);
