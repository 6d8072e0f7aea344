import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BERTH } from './daemon.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
}

/** The official docker CLI, a client only on these machines. */
export const DOCKER = process.env['DOCKER_CLI'] ?? '/usr/local/bin/docker';

/** A docker config dir of the tests' own, so no user context or credentials leak in. */
const dockerConfig = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
process.once('exit', () => rmSync(dockerConfig, { recursive: true, force: true }));

export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // the child may exit before reading its input
    child.stdin.end(options.input ?? '');
  });
}

/** `docker ...` against a daemon address. */
export function docker(host: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(DOCKER, args, {
    ...options,
    env: { DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false', ...options.env },
  });
}

/** `berth ...` against a daemon address. */
export function berth(host: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, ['--', BERTH, ...args], {
    ...options,
    env: { BERTH_HOST: host, DOCKER_HOST: '', ...options.env },
  });
}
