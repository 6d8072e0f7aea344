// Writes dist/build-info.json: the version, git commit and build time that
// `berth version` and `GET /version` report.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let gitCommit = 'unknown';
try {
  gitCommit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();
} catch {
  // not a git checkout
}
const buildTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000+00:00');
writeFileSync(
  new URL('../dist/build-info.json', import.meta.url),
  JSON.stringify({ version: pkg.version, gitCommit, buildTime }, null, 2) + '\n',
);
