import { InvalidParameterError } from '../../errors.js';
import type { ContainerConfigFields } from './manifest.js';

/** Dockerfile instructions `docker import --change` and `docker commit --change` accept. */
const ALLOWED = [
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'LABEL',
  'ONBUILD',
  'USER',
  'VOLUME',
  'WORKDIR',
  'STOPSIGNAL',
];

/**
 * Applies `--change` instructions to an image's container config, as
 * Docker's dockerfile.BuildFromConfig does for import and commit.
 */
export function applyChanges(base: ContainerConfigFields, changes: readonly string[]): ContainerConfigFields {
  const config: ContainerConfigFields = structuredClone(base);
  for (const raw of changes) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\S+)\s*(.*)$/s.exec(line);
    const instruction = (m?.[1] ?? '').toUpperCase();
    const rest = (m?.[2] ?? '').trim();
    if (!ALLOWED.includes(instruction)) {
      throw new InvalidParameterError(`${instruction.toLowerCase()} is not a valid change command`);
    }
    switch (instruction) {
      case 'CMD':
        config.Cmd = commandForm(rest);
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = commandForm(rest);
        break;
      case 'ENV':
        for (const [k, v] of keyValues(rest, 'ENV')) {
          config.Env = [...(config.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
        }
        break;
      case 'LABEL':
        for (const [k, v] of keyValues(rest, 'LABEL')) config.Labels = { ...(config.Labels ?? {}), [k]: v };
        break;
      case 'EXPOSE':
        for (const port of rest.split(/\s+/).filter(Boolean)) {
          const spec = port.includes('/') ? port.toLowerCase() : `${port}/tcp`;
          if (!/^\d+(-\d+)?\/(tcp|udp|sctp)$/.test(spec))
            throw new InvalidParameterError(`invalid containerPort: ${port}`);
          config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [spec]: {} };
        }
        break;
      case 'USER':
        config.User = rest;
        break;
      case 'WORKDIR':
        config.WorkingDir = rest.startsWith('/')
          ? rest
          : `${config.WorkingDir ?? '/'}/${rest}`.replace(/\/+/g, '/');
        break;
      case 'STOPSIGNAL':
        config.StopSignal = rest;
        break;
      case 'VOLUME': {
        const list = rest.startsWith('[') ? jsonArray(rest) : rest.split(/\s+/).filter(Boolean);
        for (const v of list) config.Volumes = { ...(config.Volumes ?? {}), [v]: {} };
        break;
      }
      case 'ONBUILD':
        config.OnBuild = [...(config.OnBuild ?? []), rest];
        break;
    }
  }
  return config;
}

function commandForm(rest: string): string[] {
  if (rest.startsWith('[')) return jsonArray(rest);
  return ['/bin/sh', '-c', rest];
}

function jsonArray(text: string): string[] {
  try {
    const value = JSON.parse(text) as unknown;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  } catch {
    // fall through
  }
  throw new InvalidParameterError(`invalid JSON array: ${text}`);
}

/** `k=v k2="v 2"` or the legacy `k v` form. */
function keyValues(rest: string, instruction: string): [string, string][] {
  if (!rest.includes('=') || (/^\S+\s/.test(rest) && !/^\S+=/.test(rest))) {
    const m = /^(\S+)\s+(.*)$/s.exec(rest);
    if (!m) throw new InvalidParameterError(`${instruction} requires at least one argument`);
    return [[m[1] ?? '', m[2] ?? '']];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of rest.matchAll(re)) {
    let value = m[2] ?? '';
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (value.startsWith("'")) value = value.slice(1, -1);
    out.push([m[1] ?? '', value]);
  }
  if (out.length === 0) throw new InvalidParameterError(`${instruction} requires at least one argument`);
  return out;
}
