/**
 * Docker's JSON-message streams (pull, push, load, import) rendered as the
 * docker CLI's jsonmessage.DisplayJSONMessagesStream renders them.
 *
 * In a terminal, every message with an `id` and a `progressDetail` owns one
 * line, rewritten in place with ANSI cursor movement:
 * `a1b2c3d4e5f6: Downloading [=====>      ]  1.2MB/3.4MB`. The bar is shown
 * only on terminals wider than 110 columns, the remaining time on those wider
 * than 50. Any other message (no id, or no progressDetail) is printed as a
 * plain line and ends the block of progress lines.
 *
 * Elsewhere, messages are plain lines `<id>: <status>`, and those carrying
 * actual progress numbers are skipped, so each layer's status changes are
 * printed once each.
 *
 * `aux` messages are not printed; they are collected for the caller. A
 * message with `errorDetail` (or `error`) ends the stream with a
 * {@link JsonMessageError} holding the daemon's message.
 */
import { CliError } from '../context.js';
import { humanSize } from './units.js';

/** The wire form of `progressDetail` (moby jsonstream.Progress). */
export interface JsonProgress {
  current?: number;
  total?: number;
  /** Unix seconds when the operation started; enables the time-left estimate. */
  start?: number;
  hidecounts?: boolean;
  /** The unit of current/total; bytes when empty. */
  units?: string;
}

/** One message of a JSON-message stream (moby jsonstream.Message plus legacy fields). */
export interface JsonMessage {
  stream?: string;
  status?: string;
  /** The daemon's pre-rendered progress bar; the CLI renders its own from progressDetail. */
  progress?: string;
  progressDetail?: JsonProgress;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  errorDetail?: { code?: number; message?: string };
  /** Legacy error string, used when errorDetail is absent. */
  error?: string;
  aux?: unknown;
}

/** An error reported inside a JSON-message stream; docker prints its message and exits 1. */
export class JsonMessageError extends CliError {
  readonly code: number | undefined;

  constructor(message: string, code?: number) {
    super(message, 1);
    this.name = 'JsonMessageError';
    this.code = code;
  }
}

/** What the stream left for the caller once it ended without error. */
export interface DisplayResult {
  /**
   * The statuses of messages without an id, in order: for a pull
   * `Pulling from library/alpine`, `Digest: sha256:…`, `Status: Downloaded
   * newer image for alpine:latest`; for an import the new image ID.
   */
  statuses: string[];
  /** The digest from a `Digest: sha256:…` status, if any. */
  digest: string | undefined;
  /** Every `aux` payload, in order (push's `{Tag, Digest, Size}`, build's `{ID}`…). */
  aux: unknown[];
  /** The `stream` texts (load's `Loaded image: x\n`). */
  streams: string[];
}

export interface DisplayOptions {
  /** Render for a terminal (cursor movement and bars). */
  isTerminal: boolean;
  /** Terminal width in columns; docker assumes 200 when it is unknown. */
  width?: number;
  /** Called with each `aux` payload as it arrives. */
  onAux?: (aux: unknown, message: JsonMessage) => void;
  /** The clock for the time-left estimate, in milliseconds. */
  now?: () => number;
}

/** Where the renderer writes; a Node stream or a test's string collector. */
export interface TextSink {
  write(text: string): unknown;
}

const ERASE_LINE = '\x1b[2K';
const cursorUp = (n: number): string => (n > 0 ? `\x1b[${n}A` : '');
const cursorDown = (n: number): string => (n > 0 ? `\x1b[${n}B` : '');

/** Go's `%8v` of a string: right-aligned in 8 columns. */
const pad8 = (s: string): string => s.padStart(8, ' ');

/** Go's time.Duration.String() of a whole number of seconds: `45s`, `2m5s`, `1h0m3s`. */
export function goDurationSeconds(totalSeconds: number): string {
  if (totalSeconds === 0) return '0s';
  const neg = totalSeconds < 0;
  let s = Math.abs(totalSeconds);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${s}s`;
  return (neg ? '-' : '') + out;
}

/**
 * The text after a status for one progress message (moby RenderTUIProgress):
 * a 50-column bar `[==>   ] ` when `width` > 110, then `current/total`
 * (human sizes, `%8v`-aligned), then the estimated time left when `width` > 50.
 */
export function renderProgress(p: JsonProgress, width: number, nowMs: number = Date.now()): string {
  const current = Math.trunc(p.current ?? 0);
  const total = Math.trunc(p.total ?? 0);
  const units = p.units ?? '';
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return units === '' ? pad8(humanSize(current)) : `${current} ${units}`;

  const percentage = Math.min(Math.trunc(Math.trunc((current / total) * 100) / 2), 50);
  let bar = '';
  if (width > 110) {
    bar = `[${'='.repeat(Math.max(percentage, 0))}>${' '.repeat(Math.max(50 - percentage, 0))}] `;
  }

  let numbers = '';
  if (p.hidecounts === true) {
    // counts hidden
  } else if (units === '') {
    const cur = humanSize(current);
    numbers = current > total ? pad8(cur) : `${pad8(cur)}/${humanSize(total)}`;
  } else {
    numbers = current > total ? `${current} ${units}` : `${current}/${total} ${units}`;
  }

  let timeLeft = '';
  const start = Math.trunc(p.start ?? 0);
  if (width > 50 && current > 0 && start > 0 && percentage < 50) {
    const fromStartMs = nowMs - start * 1000;
    const leftMs = ((total - current) * fromStartMs) / current;
    timeLeft = ` ${goDurationSeconds(Math.round(leftMs / 1000))}`;
  }
  return bar + numbers + timeLeft;
}

/**
 * Renders messages one at a time, keeping the per-id line bookkeeping of
 * docker's displayJSONMessages.
 */
export class JsonMessageRenderer {
  private readonly out: TextSink;
  private readonly options: DisplayOptions;
  private ids = new Map<string, number>();
  private readonly result: DisplayResult = { statuses: [], digest: undefined, aux: [], streams: [] };

  constructor(out: TextSink, options: DisplayOptions) {
    this.out = out;
    this.options = options;
  }

  /**
   * Renders one message.
   * @throws JsonMessageError when the message reports an error.
   */
  handle(jm: JsonMessage): void {
    if (jm.aux !== undefined && jm.aux !== null) {
      this.result.aux.push(jm.aux);
      this.options.onAux?.(jm.aux, jm);
      return;
    }
    const terminal = this.options.isTerminal;
    const hasProgress = jm.progressDetail !== undefined && jm.progressDetail !== null;
    let diff = 0;
    if (jm.id && hasProgress) {
      let line = this.ids.get(jm.id);
      if (line === undefined) {
        line = this.ids.size;
        this.ids.set(jm.id, line);
        if (terminal) this.out.write('\n');
      }
      diff = this.ids.size - line;
      if (terminal) this.out.write(cursorUp(diff));
    } else {
      this.ids = new Map();
    }
    try {
      this.display(jm, hasProgress);
    } finally {
      if (jm.id && terminal) this.out.write(cursorDown(diff));
    }
  }

  /** What the stream has left for the caller so far. */
  get collected(): DisplayResult {
    return this.result;
  }

  private display(jm: JsonMessage, hasProgress: boolean): void {
    const errorMessage = jm.errorDetail?.message ?? jm.error;
    if (jm.errorDetail !== undefined || (jm.error !== undefined && jm.error !== '')) {
      throw new JsonMessageError(errorMessage ?? '', jm.errorDetail?.code);
    }
    this.collect(jm);
    const terminal = this.options.isTerminal;
    const stream = jm.stream ?? '';
    const status = jm.status ?? '';
    let endl = '';
    if (terminal && stream === '' && hasProgress) {
      endl = '\r';
      this.out.write(ERASE_LINE + endl);
    } else if (
      hasProgress &&
      ((jm.progressDetail?.current ?? 0) > 0 || (jm.progressDetail?.total ?? 0) > 0)
    ) {
      return;
    }
    let text = jm.id ? `${jm.id}: ` : '';
    if (hasProgress && terminal) {
      const width = this.options.width || 200;
      const now = this.options.now?.() ?? Date.now();
      text += `${status} ${renderProgress(jm.progressDetail ?? {}, width, now)}${endl}`;
    } else if (jm.progress !== undefined && jm.progress !== '' && !hasProgress) {
      text += `${status} ${jm.progress}${endl}`;
    } else if (stream !== '') {
      text += stream + endl;
    } else {
      text += `${status}${endl}\n`;
    }
    this.out.write(text);
  }

  private collect(jm: JsonMessage): void {
    if (jm.stream !== undefined && jm.stream !== '') this.result.streams.push(jm.stream);
    if (!jm.id && jm.status !== undefined && jm.status !== '') {
      this.result.statuses.push(jm.status);
      const m = /^Digest: (\S+)/.exec(jm.status);
      if (m) this.result.digest = m[1];
    }
  }
}

/**
 * Splits a byte stream into JSON values the way Go's json.Decoder reads
 * them: concatenated, with or without newlines between them.
 */
export async function* decodeJsonMessages(
  input: AsyncIterable<Buffer | string>,
): AsyncGenerator<JsonMessage> {
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of input) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = jsonValueEnd(buffered)) > 0) {
      const text = buffered.slice(0, end).trim();
      buffered = buffered.slice(end);
      if (text !== '') yield parseMessage(text);
    }
  }
  buffered += decoder.decode();
  const rest = buffered.trim();
  if (rest !== '') {
    if (jsonValueEnd(rest) < 0) throw new Error('unexpected EOF');
    yield parseMessage(rest);
  }
}

function parseMessage(text: string): JsonMessage {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into a message`);
  }
  return value;
}

/**
 * The index just past the first complete top-level JSON object in `text`
 * (leading whitespace included), 0 when there is nothing but whitespace, or
 * -1 when the object is not complete yet.
 */
function jsonValueEnd(text: string): number {
  let i = 0;
  while (i < text.length && /\s/.test(text[i])) i++;
  if (i === text.length) return 0;
  if (text[i] !== '{' && text[i] !== '[') {
    // A scalar: up to the next whitespace, complete only if followed by some.
    const m = /\s/.exec(text.slice(i));
    return m ? i + m.index : -1;
  }
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Reads a JSON-message stream to its end and renders it to `out` (see the
 * module comment).
 * @throws JsonMessageError with the daemon's message when the stream reports an error.
 */
export async function displayJsonMessages(
  input: AsyncIterable<Buffer | string>,
  out: TextSink,
  options: DisplayOptions,
): Promise<DisplayResult> {
  const renderer = new JsonMessageRenderer(out, options);
  for await (const jm of decodeJsonMessages(input)) renderer.handle(jm);
  return renderer.collected;
}

/** A sink that discards what it is given (docker's `-q`). */
export const DISCARD: TextSink = { write: () => true };

/** The terminal facts docker reads from its output stream. */
export function terminalOf(stream: NodeJS.WritableStream): {
  isTerminal: boolean;
  width: number | undefined;
} {
  const tty = stream as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  return { isTerminal: tty.isTTY === true, width: tty.isTTY === true ? tty.columns : undefined };
}
