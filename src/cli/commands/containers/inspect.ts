import type { Command } from 'commander';

import { ApiError } from '../../../client/client.js';
import { inspectContainerRaw } from '../../../client/containers.js';
import { inspectImageRaw } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { asGoMap, type Template } from '../../output/template.js';
import { executeTemplateInspector, inspectRefs, type GetRaw } from '../inspect-common.js';
import { runContainerCommand } from './common.js';

/** The object kinds `docker inspect --type` knows. */
export const INSPECT_TYPES = [
  'config',
  'container',
  'image',
  'network',
  'node',
  'plugin',
  'secret',
  'service',
  'task',
  'volume',
] as const;

const MAP_KEYS = new Set([
  'Labels',
  'ExposedPorts',
  'Volumes',
  'PortBindings',
  'Tmpfs',
  'Sysctls',
  'StorageOpt',
  'Annotations',
  'Ports',
  'Networks',
  'Data',
  'DriverOpts',
  'Options',
]);

/** Whether the field at `path` is a Go map in docker's inspect types (a missing key is `<no value>`). */
function isMapField(path: readonly string[]): boolean {
  const last = path[path.length - 1] ?? '';
  if (MAP_KEYS.has(last)) return true;
  return last === 'Config' && path[path.length - 2] === 'LogConfig';
}

/** The inspect object as Go's typed struct behaves in templates: objects are structs, map fields maps. */
export function typedInspectView(value: unknown, path: readonly string[] = []): unknown {
  if (Array.isArray(value)) return value.map((v) => typedInspectView(v, path));
  if (typeof value !== 'object' || value === null) return value;
  const mapField = isMapField(path);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // The values of a map are structs again (Networks' endpoints, Ports' bindings).
    out[k] = typedInspectView(v, mapField ? [...path, '*'] : [...path, k]);
  }
  return mapField ? asGoMap(out) : out;
}

/**
 * docker's TemplateInspector on one object: the typed object first, the raw
 * JSON (every object a map, `missingkey=error`) when that fails.
 * @throws CliError `template parsing error: …`.
 */
export function executeInspect(template: Template, parsed: unknown): string {
  return executeTemplateInspector(template, parsed, typedInspectView);
}

async function rawGet(ctx: CliContext, path: string): Promise<string> {
  const res = await ctx.client().stream('GET', path);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** How each kind of object is fetched. */
function fetcher(ctx: CliContext, type: string, size: boolean): GetRaw {
  const seg = (ref: string): string => encodeURIComponent(ref);
  switch (type) {
    case 'container':
      return async (ref) => (await inspectContainerRaw(ctx.client(), ref, { size })).raw;
    case 'image':
      return async (ref) => (await inspectImageRaw(ctx.client(), ref)).raw;
    case 'network':
      return (ref) => rawGet(ctx, `/networks/${seg(ref)}`);
    case 'volume':
      return (ref) => rawGet(ctx, `/volumes/${seg(ref)}`);
    case 'plugin':
      return (ref) => rawGet(ctx, `/plugins/${seg(ref)}/json`);
    case 'node':
      return (ref) => rawGet(ctx, `/nodes/${seg(ref)}`);
    case 'service':
      return (ref) => rawGet(ctx, `/services/${seg(ref)}?insertDefaults=true`);
    case 'task':
      return (ref) => rawGet(ctx, `/tasks/${seg(ref)}`);
    case 'secret':
      return (ref) => rawGet(ctx, `/secrets/${seg(ref)}`);
    default:
      return (ref) => rawGet(ctx, `/configs/${seg(ref)}`);
  }
}

/** docker's isErrSkippable: the next kind of object is tried after these. */
function skippable(err: unknown): boolean {
  const text = err instanceof Error ? err.message : String(err);
  return (
    (err instanceof ApiError && (err.status === 404 || err.status === 501)) ||
    text.includes('not supported') ||
    text.includes('invalid reference format')
  );
}

/**
 * docker's inspectAll: with `--type` that kind only; without, a container,
 * then an image, a network, a volume, a plugin (swarm objects are not
 * looked for: berth is no swarm manager).
 */
export function inspectAnything(ctx: CliContext, type: string, size: boolean): GetRaw {
  return async (ref) => {
    const kinds = type !== '' ? [type] : ['container', 'image', 'network', 'volume', 'plugin'];
    for (const kind of kinds) {
      try {
        const raw = await fetcher(ctx, kind, size)(ref);
        if (size && kind !== 'container') ctx.err.write(`WARNING: --size ignored for ${kind}\n`);
        return raw;
      } catch (err) {
        if (type === '' && skippable(err)) continue;
        throw err;
      }
    }
    throw new CliError(`Error: No such object: ${ref}`);
  };
}

interface InspectFlags {
  format?: string;
  size?: boolean;
  type?: string;
}

/** `inspect [OPTIONS] NAME|ID [NAME|ID...]`: any object, containers first. */
export function registerInspect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('inspect')
    .description('Return low-level information on Docker objects')
    .argument('<name...>', 'NAME|ID [NAME|ID...]')
    .option('-f, --format <format>', 'format output using a custom template ("json" or a Go template)')
    .option('-s, --size', 'display total file sizes if the type is container')
    .option('--type <type>', 'only inspect objects of the given type')
    .action((refs: string[], flags: InspectFlags) =>
      runContainerCommand(async () => {
        const list = `"${INSPECT_TYPES.join('", "')}"`;
        if (flags.type !== undefined && flags.type === '') {
          throw new CliError(`type is empty: must be one of ${list}`);
        }
        const type = flags.type ?? '';
        if (type !== '' && !(INSPECT_TYPES as readonly string[]).includes(type)) {
          throw new CliError(`unknown type: ${JSON.stringify(type)}: must be one of ${list}`);
        }
        await inspectRefs(
          ctx,
          refs,
          flags.format,
          inspectAnything(ctx, type, flags.size === true),
          executeInspect,
        );
      }),
    );
}

/** `container inspect [OPTIONS] CONTAINER [CONTAINER...]`. */
export function registerContainerInspect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('inspect')
    .description('Display detailed information on one or more containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .option('-f, --format <format>', 'format output using a custom template ("json" or a Go template)')
    .option('-s, --size', 'display total file sizes')
    .action((refs: string[], flags: InspectFlags) =>
      runContainerCommand(() =>
        inspectRefs(
          ctx,
          refs,
          flags.format,
          async (ref) => (await inspectContainerRaw(ctx.client(), ref, { size: flags.size === true })).raw,
          executeInspect,
        ),
      ),
    );
}
