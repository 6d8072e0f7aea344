/**
 * KEY=VALUE flags and files as the docker CLI reads them: `-e`/`--env-file`,
 * `-l`/`--label-file`, `--log-opt`, `--sysctl`, `--storage-opt`
 * (docker/cli opts and pkg/kvfile), with their error messages.
 */
import { readFileSync } from 'node:fs';

/** Looks a variable up in the environment (`process.env` by default). */
export type LookupEnv = (name: string) => string | undefined;

export const processEnv: LookupEnv = (name) => process.env[name];

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
};

/** A file-system error worded as Go's os package: `open x: no such file or directory`. */
export function goFsError(err: unknown, op: string, path: string): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new Error(`${op} ${path}: ${ERRNO_TEXT[code] ?? (err as Error).message}`, { cause: err });
}

/**
 * docker's ValidateEnv (`-e`): `KEY=VALUE` as is; a bare `KEY` takes its
 * value from the environment when it is set there.
 * @throws Error `invalid environment variable: =x`.
 */
export function validateEnv(value: string, lookup: LookupEnv = processEnv): string {
  const eq = value.indexOf('=');
  const key = eq === -1 ? value : value.slice(0, eq);
  if (key === '') throw new Error(`invalid environment variable: ${value}`);
  if (eq !== -1) return value;
  const found = lookup(key);
  return found !== undefined ? `${key}=${found}` : value;
}

/**
 * docker's ValidateLabel: a non-empty key without whitespace.
 * @throws Error `invalid label '=x': empty name` or `label 'a b' contains whitespaces`.
 */
export function validateLabel(value: string): string {
  const eq = value.indexOf('=');
  const key = (eq === -1 ? value : value.slice(0, eq)).replace(/^[ \t]+/, '');
  if (key === '') throw new Error(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new Error(`label '${key}' contains whitespaces`);
  return value;
}

/**
 * pkg/kvfile's parser over a file's text: one `KEY[=VALUE]` a line, leading
 * whitespace dropped, `#` comments and blank lines skipped, a UTF-8 BOM
 * removed. A key without a value takes it from `lookup` (or is dropped).
 * @throws Error `no variable name on line '…'` or `variable '…' contains whitespaces`.
 */
export function parseKeyValueText(text: Buffer | string, lookup?: LookupEnv): string[] {
  const data = typeof text === 'string' ? Buffer.from(text) : text;
  const lines: string[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end === -1) end = data.length;
    lineNo++;
    let bytes = data.subarray(start, end);
    start = end + 1;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    let lineText: string;
    try {
      lineText = UTF8.decode(bytes);
    } catch {
      throw new Error(`invalid utf8 bytes at line ${lineNo}: [${[...bytes].join(' ')}]`);
    }
    if (lineNo === 1 && lineText.startsWith('\ufeff')) lineText = lineText.slice(1);
    const line = lineText.replace(/^\s+/u, '');
    if (line.length === 0 || line[0] === '#') continue;
    const eq = line.indexOf('=');
    const key = eq === -1 ? line : line.slice(0, eq);
    if (key.length === 0) throw new Error(`no variable name on line '${line}'`);
    if (/[ \t]/.test(key)) throw new Error(`variable '${key}' contains whitespaces`);
    if (eq !== -1) {
      lines.push(line);
      continue;
    }
    if (lookup) {
      const found = lookup(line);
      if (found !== undefined) lines.push(`${key}=${found}`);
    }
  }
  return lines;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads a file of the env/label file format. */
export type ReadFile = (path: string) => Buffer;

export const readFileBytes: ReadFile = (path) => readFileSync(path);

/**
 * kvfile.Parse: reads and parses a file.
 * @throws Error `open x: no such file or directory` or `invalid env file (x): …`.
 */
export function parseKeyValueFile(
  path: string,
  lookup: LookupEnv | undefined,
  read: ReadFile = readFileBytes,
): string[] {
  let data: Buffer;
  try {
    data = read(path);
  } catch (err) {
    throw goFsError(err, 'open', path);
  }
  try {
    return parseKeyValueText(data, lookup);
  } catch (err) {
    throw new Error(`invalid env file (${path}): ${(err as Error).message}`, { cause: err });
  }
}

/** docker's ReadKVStrings: the files' pairs, then the flags' (which override them). */
export function readKVStrings(
  files: readonly string[],
  override: readonly string[],
  read?: ReadFile,
): string[] {
  return [...files.flatMap((f) => parseKeyValueFile(f, undefined, read)), ...override];
}

/** docker's ReadKVEnvStrings: as readKVStrings, bare keys looked up in the environment. */
export function readKVEnvStrings(
  files: readonly string[],
  override: readonly string[],
  lookup: LookupEnv = processEnv,
  read?: ReadFile,
): string[] {
  return [...files.flatMap((f) => parseKeyValueFile(f, lookup, read)), ...override];
}

/** docker's ConvertKVStringsToMap: `["a=b", "c"]` is `{a: "b", c: ""}`. */
export function kvStringsToMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === -1) out[value] = '';
    else out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

const SYSCTL_NAMES = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * docker's ValidateSysctl: the IPC sysctls and the `net.`/`fs.mqueue.` namespaces.
 * @throws Error `sysctl 'x' is not allowed`.
 */
export function validateSysctl(value: string): string {
  const eq = value.indexOf('=');
  const key = eq === -1 ? '' : value.slice(0, eq);
  if (eq === -1 || key === '') throw new Error(`sysctl '${value}' is not allowed`);
  if (SYSCTL_NAMES.has(key) || key.startsWith('net.') || key.startsWith('fs.mqueue.')) return value;
  throw new Error(`sysctl '${value}' is not allowed`);
}

/**
 * docker's parseLoggingOpts: `--log-opt` pairs as a map; the `none` driver takes none.
 * @throws Error `invalid logging opts for driver none`.
 */
export function parseLoggingOpts(driver: string, opts: readonly string[]): Record<string, string> {
  if (driver === 'none' && opts.length > 0) throw new Error(`invalid logging opts for driver ${driver}`);
  return kvStringsToMap(opts);
}

/**
 * docker's parseStorageOpts.
 * @throws Error `invalid storage option`.
 */
export function parseStorageOpts(opts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    if (eq === -1) throw new Error('invalid storage option');
    out[opt.slice(0, eq)] = opt.slice(eq + 1);
  }
  return out;
}
