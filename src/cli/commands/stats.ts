/**
 * `berth stats [OPTIONS] [CONTAINER...]` (and `container stats`), as `docker
 * stats` (cli/command/container/stats.go): a table of resource usage,
 * redrawn in place on a terminal every half second (repeated plainly,
 * once a second, when the output is not one), or printed once with
 * `--no-stream`. Without container arguments it shows the running
 * containers (all with `--all`), following the daemon's events as they start,
 * die and go.
 *
 * Beyond docker: `--history CONTAINER...` draws the last ten minutes of CPU
 * % and memory as sparklines, from berth's history endpoint.
 */
import { Command } from 'commander';

import type { BerthClient } from '../../client/client.js';
import { parseEventLine, readLines } from '../../client/client.js';
import { listContainers } from '../../client/containers.js';
import {
  blockIO,
  containerStats,
  containerStatsHistory,
  cpuPercent,
  memoryPercent,
  memoryUsage,
  networkIO,
  type StatsHistoryResponse,
  type StatsResponse,
} from '../../client/stats.js';
import { CliError, type CliContext } from '../context.js';
import { goBooleanFlags } from '../opts/flags.js';
import { formatItems } from '../output/format.js';
import { formatFloat } from '../output/gofmt.js';
import { sparkline } from '../output/sparkline.js';
import { TemplateError } from '../output/template.js';
import { humanSizeWithPrecision } from '../output/units.js';
import { isTerminal } from '../terminal.js';
import { configString, errorText, runContainerCommand } from './containers/common.js';

/** docker's default stats table. */
export const DEFAULT_STATS_FORMAT =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** Column titles (docker's statsFormatWrite header context). */
export const STATS_HEADERS: Readonly<Record<string, string>> = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

/** One container's numbers, as docker's StatsEntry. */
export interface StatsEntry {
  /** The reference the stats were asked for: an ID from the list, or what the user typed. */
  container: string;
  name: string;
  id: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
  /** No valid numbers (an error, or none for two seconds): shown as `--`. */
  isInvalid: boolean;
}

export function emptyStatsEntry(container: string, isInvalid = false): StatsEntry {
  return {
    container,
    name: '',
    id: '',
    cpuPercentage: 0,
    memory: 0,
    memoryLimit: 0,
    memoryPercentage: 0,
    networkRx: 0,
    networkTx: 0,
    blockRead: 0,
    blockWrite: 0,
    pidsCurrent: 0,
    isInvalid,
  };
}

/** The numbers the docker CLI takes from one stats object (Linux). */
export function statsEntryFrom(container: string, v: StatsResponse): StatsEntry {
  const zeroCpu = { cpu_usage: { total_usage: 0 } };
  const memory = v.memory_stats ?? {};
  const used = memoryUsage(memory);
  const limit = Number(memory.limit ?? 0);
  const net = networkIO(v.networks);
  const block = blockIO(v.blkio_stats);
  return {
    container,
    name: v.name ?? '',
    id: v.id ?? '',
    cpuPercentage: cpuPercent(v.precpu_stats ?? zeroCpu, v.cpu_stats ?? zeroCpu),
    memory: used,
    memoryLimit: limit,
    memoryPercentage: memoryPercent(limit, used),
    networkRx: net.rx,
    networkTx: net.tx,
    blockRead: block.read,
    blockWrite: block.write,
    pidsCurrent: v.pids_stats?.current ?? 0,
    isInvalid: false,
  };
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** go-units BytesSize: binary units, four significant digits (`64MiB`, `1.944GiB`). */
export function bytesSize(size: number): string {
  let value = size;
  let i = 0;
  while (value >= 1024 && i < BINARY_UNITS.length - 1) {
    value /= 1024;
    i++;
  }
  return formatFloat(value, 'g', 4) + BINARY_UNITS[i];
}

/** docker's formatPercentage: two decimals and `%`. */
export function formatPercentage(value: number): string {
  return `${formatFloat(value, 'f', 2)}%`;
}

/** formatter.TruncateID: the part after any `algo:`, cut to 12 characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}

/** One row as templates see it: docker's statsContext methods, in the sorted order of its JSON. */
export interface StatsRow {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

const NO_VALUE = '--';

export function statsRow(e: StatsEntry, trunc: boolean): StatsRow {
  const io = (a: number, b: number): string =>
    `${humanSizeWithPrecision(a, 3)} / ${humanSizeWithPrecision(b, 3)}`;
  return {
    BlockIO: e.isInvalid ? NO_VALUE : io(e.blockRead, e.blockWrite),
    CPUPerc: e.isInvalid ? NO_VALUE : formatPercentage(e.cpuPercentage),
    Container: e.container,
    ID: trunc ? truncateId(e.id) : e.id,
    MemPerc: e.isInvalid ? NO_VALUE : formatPercentage(e.memoryPercentage),
    MemUsage: e.isInvalid ? '-- / --' : `${bytesSize(e.memory)} / ${bytesSize(e.memoryLimit)}`,
    Name: e.name.replace(/^\//, '') || NO_VALUE,
    NetIO: e.isInvalid ? NO_VALUE : io(e.networkRx, e.networkTx),
    PIDs: e.isInvalid ? NO_VALUE : String(e.pidsCurrent),
  };
}

/**
 * The stats table (or template output) for `entries`.
 * @throws CliError for a bad template.
 */
export function renderStats(
  entries: readonly StatsEntry[],
  options: { format: string; trunc: boolean },
): string {
  try {
    return formatItems(
      options.format,
      entries.map((e) => statsRow(e, options.trunc)),
      STATS_HEADERS,
      { defaultTableFormat: DEFAULT_STATS_FORMAT, escapeItemJSON: true },
    );
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(err.message);
    throw err;
  }
}

/**
 * A terminal frame of a rendered table, drawn over the previous one as
 * docker does: cursor home, each line followed by erase-to-end-of-line,
 * then erase below. The first frame clears the screen first.
 */
export function terminalFrame(rendered: string, first: boolean): string {
  let frame = first ? '\x1b[2J\x1b[H' : '\x1b[H';
  for (const line of rendered.split('\n')) frame += `${line}\x1b[K\n`;
  return frame + '\x1b[J';
}

/**
 * `--history`: a container's sampled CPU % and memory as sparklines, fitted
 * to `width` columns. CPU is scaled from 0 to 100% (or its peak when
 * higher), memory from 0 to its peak.
 */
export function renderHistory(h: StatsHistoryResponse, width: number): string {
  const samples = h.samples;
  const title = `${h.name || NO_VALUE} (${truncateId(h.id)})`;
  if (samples.length === 0) return `${title}: no samples yet\n`;
  const first = Date.parse(samples[0]?.time ?? '');
  const last = samples[samples.length - 1];
  const spanSeconds = Math.max(0, Math.round((Date.parse(last?.time ?? '') - first) / 1000));
  const cpu = samples.map((s) => s.cpuPercent);
  const mem = samples.map((s) => s.memoryUsage);
  const cpuPeak = Math.max(...cpu);
  const memPeak = Math.max(...mem);
  const cpuNow = `${formatPercentage(last?.cpuPercent ?? 0)} now, ${formatPercentage(cpuPeak)} peak`;
  const memNow = `${bytesSize(last?.memoryUsage ?? 0)} / ${bytesSize(last?.memoryLimit ?? 0)} now, ${bytesSize(memPeak)} peak`;
  const sparkWidth = Math.max(10, width - 8 - Math.max(cpuNow.length, memNow.length) - 2);
  const span = spanSeconds >= 60 ? `${Math.floor(spanSeconds / 60)}m${spanSeconds % 60}s` : `${spanSeconds}s`;
  return (
    `${title}: ${samples.length} samples over ${span}\n` +
    `CPU %   ${sparkline(cpu, { min: 0, max: Math.max(100, cpuPeak), width: sparkWidth })}  ${cpuNow}\n` +
    `MEM     ${sparkline(mem, { min: 0, max: memPeak, width: sparkWidth })}  ${memNow}\n`
  );
}

// ---- collection -------------------------------------------------------------------

/** docker's timeout: no object for this long and a streamed entry shows as invalid. */
const STALE_MS = 2000;

/** One container being followed. */
class Collected {
  readonly container: string;
  entry: StatsEntry;
  error: unknown;
  lastUpdate = Date.now();
  readonly controller = new AbortController();
  readonly first: Promise<void>;
  private resolveFirst: () => void = () => undefined;

  constructor(container: string) {
    this.container = container;
    this.entry = emptyStatsEntry(container);
    this.first = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  gotFirst(): void {
    this.resolveFirst();
  }

  /** The entry as it should be shown now. */
  current(stream: boolean, now: number): StatsEntry {
    if (this.error !== undefined) return { ...this.entry, isInvalid: true };
    if (stream && now - this.lastUpdate > STALE_MS) return emptyStatsEntry(this.container, true);
    return this.entry;
  }
}

/** Follows containers' stats: one request (or stream) per container, as the docker CLI does. */
class StatsCollector {
  private readonly client: BerthClient;
  private readonly stream: boolean;
  private readonly signal: AbortSignal;
  readonly items: Collected[] = [];

  constructor(client: BerthClient, stream: boolean, signal: AbortSignal) {
    this.client = client;
    this.stream = stream;
    this.signal = signal;
  }

  /** Starts following `container` unless it is followed already. */
  add(container: string): Collected | undefined {
    if (this.items.some((i) => i.container === container)) return undefined;
    const item = new Collected(container);
    this.items.push(item);
    void this.collect(item);
    return item;
  }

  remove(container: string): void {
    const i = this.items.findIndex((item) => item.container === container);
    if (i === -1) return;
    this.items[i]?.controller.abort();
    this.items.splice(i, 1);
  }

  entries(now: number = Date.now()): StatsEntry[] {
    return this.items.map((i) => i.current(this.stream, now));
  }

  private async collect(item: Collected): Promise<void> {
    const signal = AbortSignal.any([this.signal, item.controller.signal]);
    const timeout = setTimeout(() => item.gotFirst(), STALE_MS);
    try {
      for await (const v of containerStats(this.client, item.container, { stream: this.stream, signal })) {
        item.entry = statsEntryFrom(item.container, v);
        item.error = undefined;
        item.lastUpdate = Date.now();
        item.gotFirst();
        if (!this.stream) break;
      }
      if (this.stream && !signal.aborted) item.error = new Error('EOF');
    } catch (err) {
      if (!signal.aborted) item.error = err;
    } finally {
      clearTimeout(timeout);
      item.gotFirst();
    }
  }
}

/**
 * Follows the daemon's container events for the list without arguments:
 * `start` (and `create` with --all) adds, `die` (without --all) and
 * `destroy` remove. Resolves once subscribed; `done` settles when the
 * event stream ends.
 */
async function followEvents(
  client: BerthClient,
  collector: StatsCollector,
  all: boolean,
  signal: AbortSignal,
): Promise<{ done: Promise<void> }> {
  const res = await client.stream('GET', '/events', {
    query: { filters: JSON.stringify({ type: { container: true } }) },
    signal,
  });
  const add = all ? ['start', 'create'] : ['start'];
  const remove = all ? ['destroy'] : ['destroy', 'die'];
  const done = (async () => {
    try {
      for await (const line of readLines(res)) {
        const ev = parseEventLine(line);
        if (ev.Actor.ID === '') continue;
        if (add.includes(ev.Action)) collector.add(ev.Actor.ID);
        else if (remove.includes(ev.Action)) collector.remove(ev.Actor.ID);
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  })();
  return { done };
}

interface StatsFlags {
  all?: boolean;
  stream?: boolean;
  trunc?: boolean;
  format?: string;
  history?: boolean;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function runHistory(ctx: CliContext, containers: readonly string[]): Promise<void> {
  if (containers.length === 0) throw new CliError('"berth stats --history" requires at least 1 container');
  const columns = (ctx.out as { columns?: number }).columns ?? 80;
  const out: string[] = [];
  for (const c of containers) out.push(renderHistory(await containerStatsHistory(ctx.client(), c), columns));
  ctx.out.write(out.join('\n'));
}

async function runStats(ctx: CliContext, containers: readonly string[], flags: StatsFlags): Promise<void> {
  const client = ctx.client();
  const stream = flags.stream !== false;
  const trunc = flags.trunc !== false;
  let format = flags.format ?? '';
  if (format === '') format = configString(ctx, 'statsFormat') || 'table';

  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const collector = new StatsCollector(client, stream, controller.signal);
  let events: Promise<void> | undefined;
  try {
    const showAll = containers.length === 0;
    if (showAll) {
      // Subscribed before listing, so a container starting in between is not missed.
      if (stream)
        events = (await followEvents(client, collector, flags.all === true, controller.signal)).done;
      for (const c of await listContainers(client, { all: flags.all === true })) {
        if (c.Id) collector.add(c.Id);
      }
      await Promise.all(collector.items.map((i) => i.first));
    } else {
      for (const c of containers) collector.add(c);
      await Promise.all(collector.items.map((i) => i.first));
      const errors = collector.items.filter((i) => i.error !== undefined).map((i) => errorText(i.error));
      if (errors.length > 0) throw new CliError(errors.join('\n'));
    }

    if (!stream) {
      if (collector.items.length > 0) ctx.out.write(renderStats(collector.entries(), { format, trunc }));
      return;
    }

    const tty = isTerminal(ctx.out);
    const period = tty ? 500 : 1000;
    let eventsEnded = false;
    let eventsError: unknown;
    void events?.then(
      () => (eventsEnded = true),
      (err: unknown) => {
        eventsEnded = true;
        eventsError = err;
      },
    );
    for (let first = true; !controller.signal.aborted; first = false) {
      if (eventsEnded) {
        if (eventsError !== undefined) throw new CliError(errorText(eventsError));
        return;
      }
      if (collector.items.length === 0 && !showAll) {
        if (tty) ctx.out.write('\x1b[H\x1b[J');
        return;
      }
      const text = renderStats(collector.entries(), { format, trunc });
      ctx.out.write(tty ? terminalFrame(text, first) : text);
      await sleep(period, controller.signal);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    controller.abort();
    await events?.catch(() => undefined);
  }
}

function buildStats(ctx: CliContext): Command {
  const cmd = new Command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .usage('[OPTIONS] [CONTAINER...]')
    .argument('[containers...]', 'CONTAINER')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option(
      '--format <string>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', 'do not truncate output')
    .option('--history', 'draw the sampled CPU % and memory of the named containers (berth extension)');
  goBooleanFlags(cmd);
  return cmd.action((containers: string[], flags: StatsFlags) =>
    runContainerCommand(() =>
      flags.history ? runHistory(ctx, containers) : runStats(ctx, containers, flags),
    ),
  );
}

/**
 * Registers `stats` on the program, and `container stats` when the
 * `container` group is registered already.
 */
export function registerStats(program: Command, ctx: CliContext): void {
  program.addCommand(buildStats(ctx));
  program.commands.find((c) => c.name() === 'container')?.addCommand(buildStats(ctx));
}
