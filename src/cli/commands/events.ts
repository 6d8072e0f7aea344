import type { Command } from 'commander';

import type { EventMessage } from '../../client/client.js';
import { FilterArgs } from '../../util/filters.js';
import { formatRfc3339NanoFixed, formatUnixTimestamp, nowNano, parseUserTimestamp } from '../../util/time.js';
import { CliError, type CliContext } from '../context.js';
import { asGoMap, parseTemplate, type Template } from '../output/template.js';

/** The docker CLI's default event line: `<time> <type> <action> <actor> (k=v, ...)`. */
export function renderEventLine(ev: EventMessage): string {
  let line = '';
  if (ev.timeNano !== 0n) line += `${formatRfc3339NanoFixed(ev.timeNano)} `;
  else if (ev.time !== 0) line += `${formatRfc3339NanoFixed(BigInt(ev.time) * 1_000_000_000n)} `;
  line += `${ev.Type} ${ev.Action} ${ev.Actor.ID}`;
  const keys = Object.keys(ev.Actor.Attributes).sort();
  if (keys.length > 0) line += ` (${keys.map((k) => `${k}=${ev.Actor.Attributes[k] ?? ''}`).join(', ')})`;
  return line;
}

/**
 * The value `--format` templates see: Go's events.Message field names
 * (`.Type`, `.Actor.Attributes.name`, `.TimeNano`...), and `{{json .}}`
 * prints the message as the daemon sent it.
 */
export function templateView(ev: EventMessage): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  if (ev.status !== undefined) wire['status'] = ev.status;
  if (ev.id !== undefined) wire['id'] = ev.id;
  if (ev.from !== undefined) wire['from'] = ev.from;
  Object.assign(wire, {
    Type: ev.Type,
    Action: ev.Action,
    Actor: { ID: ev.Actor.ID, Attributes: ev.Actor.Attributes },
    scope: ev.scope,
    time: ev.time,
    timeNano: ev.timeNano,
  });
  return {
    Status: ev.status ?? '',
    ID: ev.id ?? '',
    From: ev.from ?? '',
    Type: ev.Type,
    Action: ev.Action,
    Actor: { ID: ev.Actor.ID, Attributes: asGoMap(ev.Actor.Attributes) },
    Scope: ev.scope,
    Time: ev.time,
    TimeNano: ev.timeNano,
    toJSON: () => wire,
  };
}

/** Turns a user's `--since`/`--until` into the Unix timestamp form the API takes. */
export function apiTimestamp(flag: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const nano = parseUserTimestamp(value, nowNano());
  if (nano === undefined) {
    throw new CliError(`invalid value for --${flag}: failed to parse value as time or duration: "${value}"`);
  }
  return formatUnixTimestamp(nano);
}

export function compileEventFormat(format: string | undefined): Template | undefined {
  if (format === undefined || format === '') return undefined;
  const source = format === 'json' ? '{{json .}}' : format;
  try {
    const template = parseTemplate(source);
    template.execute(
      templateView({
        Type: '',
        Action: '',
        Actor: { ID: '', Attributes: {} },
        scope: '',
        time: 0,
        timeNano: 0n,
      }),
    );
    return template;
  } catch (err) {
    throw new CliError(`Error parsing format: ${(err as Error).message}`, 64);
  }
}

interface EventsFlags {
  filter?: string[];
  since?: string;
  until?: string;
  format?: string;
}

export function registerEvents(program: Command, ctx: CliContext): Command {
  return program
    .command('events')
    .description('Get real time events from the server')
    .option(
      '-f, --filter <filter>',
      'filter output based on conditions provided (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--since <timestamp>', 'show all events created since timestamp')
    .option('--until <timestamp>', 'stream events until this timestamp')
    .option('--format <template>', 'format output using a Go template, or "json"')
    .action(async (opts: EventsFlags) => {
      const template = compileEventFormat(opts.format);
      let filters: FilterArgs;
      try {
        filters = FilterArgs.fromPairs(opts.filter ?? []);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const ev of ctx.client().events({
          since: apiTimestamp('since', opts.since),
          until: apiTimestamp('until', opts.until),
          filters,
          signal: controller.signal,
        })) {
          ctx.out.write((template ? template.execute(templateView(ev)) : renderEventLine(ev)) + '\n');
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
