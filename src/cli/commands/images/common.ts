/** What the image commands share: flag helpers, error wording, stream display, credentials. */
import type { IncomingMessage } from 'node:http';

import { ApiError, DaemonUnreachableError } from '../../../client/client.js';
import { ReferenceError, encodeRegistryAuth } from '../../../client/images.js';
import { FilterArgs } from '../../../util/filters.js';
import { CliError, type CliContext } from '../../context.js';
import { DockerConfigFile, registryAuthOf } from '../../docker-config.js';
import { DISCARD, displayJsonMessages, terminalOf, type DisplayResult } from '../../output/progress.js';

/** commander's collector for repeatable flags (`--filter a --filter b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A collector for a repeatable `--filter key=value` flag that refuses a
 * malformed value while parsing flags, as docker does (status 125).
 */
export function filterFlag(flags: string): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => {
    if (!value.includes('=')) {
      throw new CliError(
        `invalid argument "${value}" for "${flags}" flag: bad format of filter (expected name=value)`,
        125,
      );
    }
    return [...previous, value];
  };
}

/** `--filter key=value` flags as FilterArgs; a malformed one is a CLI error. */
export function parseFilterFlags(pairs: readonly string[] | undefined): FilterArgs {
  try {
    return FilterArgs.fromPairs(pairs ?? []);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Go's strconv.ParseBool; undefined when `s` is not a boolean. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
};

/** A file-system error worded as Go's os package words it: `open x.tar: no such file or directory`. */
export function fsErrorMessage(err: unknown, op: string, path: string): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const text = ERRNO_TEXT[code];
  return text !== undefined ? `${op} ${path}: ${text}` : `${op} ${path}: ${(err as Error).message}`;
}

/** An error's text as the docker CLI prints it (daemon errors prefixed). */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `Error response from daemon: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs a command body, turning client-side failures (bad references, config
 * file problems) into CliErrors printed as docker prints them. Daemon errors
 * pass through to main, which prints `Error response from daemon: …`.
 */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof ApiError || err instanceof DaemonUnreachableError || err instanceof CliError)
      throw err;
    if (err instanceof ReferenceError) throw new CliError(err.message);
    throw err;
  }
}

/** The docker config, warning on stderr (and carrying on) when it is malformed. */
export function readDockerConfig(ctx: CliContext): DockerConfigFile {
  return DockerConfigFile.loadOrWarn((message) => ctx.err.write(message + '\n'));
}

/** The `X-Registry-Auth` value docker sends for `image`: the stored credentials of its registry, or `{}`. */
export function registryAuthFor(ctx: CliContext, image: string): string {
  const config = readDockerConfig(ctx);
  let stored;
  try {
    stored = config.authForImage(image);
  } catch (err) {
    if (err instanceof ReferenceError) throw err;
    ctx.err.write(`WARNING: ${(err as Error).message}\n`);
  }
  return encodeRegistryAuth(registryAuthOf(stored));
}

/**
 * Shows a JSON-message stream on stdout as docker does (progress lines in a
 * terminal, plain lines elsewhere, nothing with `quiet`).
 */
export function showJsonStream(
  ctx: CliContext,
  res: IncomingMessage,
  options: { quiet?: boolean; onAux?: (aux: unknown) => void } = {},
): Promise<DisplayResult> {
  if (options.quiet) return displayJsonMessages(res, DISCARD, { isTerminal: false, onAux: options.onAux });
  const { isTerminal, width } = terminalOf(ctx.out);
  return displayJsonMessages(res, ctx.out, { isTerminal, width, onAux: options.onAux });
}

/** True when the stream is a terminal (docker's `IsTerminal()`). */
export function isTerminal(stream: NodeJS.ReadableStream | NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function localParts(unixSeconds: number): { date: string; time: string; offset: string; d: Date } {
  const d = new Date(unixSeconds * 1000);
  const date = `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const minutes = -d.getTimezoneOffset();
  const abs = Math.abs(minutes);
  const offset = `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
  return { date, time, offset, d };
}

/** Go's time.Unix(s, 0).String() in local time: `2024-01-02 15:04:05 +0000 UTC`. */
export function goTimeString(unixSeconds: number): string {
  const { date, time, offset, d } = localParts(unixSeconds);
  let zone: string;
  try {
    zone =
      new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
        .formatToParts(d)
        .find((p) => p.type === 'timeZoneName')?.value ?? '';
  } catch {
    zone = '';
  }
  if (zone === '' || /^GMT[+-]/.test(zone))
    zone = offset.slice(0, 3) + (offset.endsWith('00') ? '' : offset.slice(3));
  return `${date} ${time} ${offset} ${zone}`;
}

/** Go's time.Unix(s, 0).Format(time.RFC3339) in local time: `2024-01-02T15:04:05Z` or `…+01:00`. */
export function rfc3339Local(unixSeconds: number): string {
  const { date, time, offset } = localParts(unixSeconds);
  const zone = offset === '+0000' ? 'Z' : `${offset.slice(0, 3)}:${offset.slice(3)}`;
  return `${date}T${time}${zone}`;
}
