import { readFileSync } from 'node:fs';

/** berth's version, git commit and build time, stamped into dist/build-info.json at build. */
export interface BuildStamp {
  version: string;
  gitCommit: string;
  buildTime: string;
}

let cached: BuildStamp | undefined;

export function buildStamp(): BuildStamp {
  if (cached) return cached;
  try {
    // dist/src/build-info.js → dist/build-info.json
    const raw = JSON.parse(
      readFileSync(new URL('../build-info.json', import.meta.url), 'utf8'),
    ) as Partial<BuildStamp>;
    cached = {
      version: raw.version ?? '0.0.0-dev',
      gitCommit: raw.gitCommit ?? 'unknown',
      buildTime: raw.buildTime ?? '',
    };
  } catch {
    cached = { version: '0.0.0-dev', gitCommit: 'unknown', buildTime: '' };
  }
  return cached;
}
