// Runs the compiled test files with node's test runner. Node 20 takes no
// globs, so the files are listed here; `--unit` runs only the colocated unit
// tests under dist/src, `--integration` only dist/test.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const roots = args.includes('--unit')
  ? ['dist/src']
  : args.includes('--integration')
    ? ['dist/test']
    : ['dist/src', 'dist/test'];

function find(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(find(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = roots.flatMap(find).sort();
if (files.length === 0) {
  console.error('no test files found: run npm run build first');
  process.exit(1);
}
const extra = args.filter((a) => !a.startsWith('--unit') && !a.startsWith('--integration'));
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
