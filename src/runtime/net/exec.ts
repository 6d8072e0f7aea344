/**
 * Runs the host networking tools (ip, iptables, nsenter) for the rest of
 * src/runtime/net. A failed command rejects with a CommandError that keeps
 * the argv, exit code and stderr, so callers can classify it ("File exists",
 * "Cannot find device") before turning it into a BerthError.
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Kill the command after this long. Default 30 s. */
  timeoutMs?: number;
}

export class CommandError extends Error {
  readonly file: string;
  readonly args: readonly string[];
  /** The exit code, or null when the command was killed or could not start. */
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;

  constructor(
    file: string,
    args: readonly string[],
    code: number | null,
    stdout: string,
    stderr: string,
    cause: unknown,
  ) {
    const detail = stderr.trim() || (cause instanceof Error ? cause.message : String(cause));
    super(`${file} ${args.join(' ')}: ${detail}`, { cause });
    this.name = 'CommandError';
    this.file = file;
    this.args = args;
    this.code = code;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

const MAX_BUFFER = 64 * 1024 * 1024;

export function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: MAX_BUFFER, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const code = typeof err.code === 'number' ? err.code : null;
        reject(new CommandError(file, args, code, stdout, stderr, err));
      },
    );
    // A command that exits before reading its stdin makes the write fail with
    // EPIPE; the exit status reported above is what matters.
    child.stdin?.on('error', () => undefined);
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** The stderr of a CommandError (or the message of anything else), for classifying failures. */
export function failureText(err: unknown): string {
  if (err instanceof CommandError) return err.stderr;
  return err instanceof Error ? err.message : String(err);
}
