/**
 * Commander helpers that make flags behave as pflag's do in the docker CLI:
 * repeatable list flags validated as they are read, values parsed with
 * docker's error wording (`invalid argument "x" for "-m, --memory" flag: …`,
 * status 125), and boolean flags that take `--flag=false`.
 */
import { Option, type Command } from 'commander';

import { CliError } from '../context.js';
import { parseGoBool } from './units.js';

/** pflag's flag name in messages: `-m, --memory` or `--memory-swap`. */
export function flagDisplayName(flags: string): string {
  return flags.replace(/\s*[<[].*$/, '').trim();
}

/** docker's error for a flag value that does not parse. */
export function flagError(flags: string, value: string, err: unknown): CliError {
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(`invalid argument "${value}" for "${flagDisplayName(flags)}" flag: ${message}`, 125);
}

/**
 * A commander argument parser for a repeatable flag, each value passed
 * through `validate` (which may normalize it) as pflag's ListOpts does.
 */
export function listFlag(
  flags: string,
  validate?: (value: string) => string,
): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => {
    if (!validate) return [...previous, value];
    try {
      return [...previous, validate(value)];
    } catch (err) {
      throw flagError(flags, value, err);
    }
  };
}

/** A commander argument parser for a repeatable flag whose values parse to `T`. */
export function listOfFlag<T>(
  flags: string,
  parse: (value: string) => T,
): (value: string, previous?: T[]) => T[] {
  return (value, previous = []) => {
    try {
      return [...previous, parse(value)];
    } catch (err) {
      throw flagError(flags, value, err);
    }
  };
}

/** A commander argument parser for a single-valued flag (the last one wins). */
export function valueFlag<T>(flags: string, parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw flagError(flags, value, err);
    }
  };
}

/**
 * Rewrites `--flag=true|false` (and other Go booleans) of boolean options to
 * `--flag` / `--no-flag`, as far as options are parsed: up to `--`, and with
 * `stopAtOperand` up to the first operand (docker's non-interspersed
 * commands: run, create, exec).
 */
export function rewriteBoolArgs(cmd: Command, args: readonly string[], stopAtOperand: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.push(arg);
      if (stopAtOperand) {
        out.push(...args.slice(i + 1));
        break;
      }
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const option = cmd.options.find((o) => o.long === name || o.short === name);
    if (option && !option.required && !option.optional && !option.negate && eq !== -1) {
      const value = parseGoBool(arg.slice(eq + 1));
      if (value === undefined) {
        throw new CliError(
          `invalid argument "${arg.slice(eq + 1)}" for "${flagDisplayName(option.flags)}" flag: strconv.ParseBool: parsing ${JSON.stringify(arg.slice(eq + 1))}: invalid syntax`,
          125,
        );
      }
      out.push(value ? (option.long ?? name) : `--no-${(option.long ?? '').replace(/^--/, '')}`);
      continue;
    }
    out.push(arg);
    if (option && option.required && eq === -1 && name.startsWith('--')) {
      if (i + 1 < args.length) out.push(args[++i] ?? '');
    } else if (option && option.required && eq === -1 && name.length === 2) {
      if (i + 1 < args.length) out.push(args[++i] ?? '');
    }
  }
  return out;
}

/**
 * Makes the command's boolean flags accept Go's `--flag=false` form: adds a
 * hidden `--no-flag` for each (so a flag never given stays undefined, and
 * one given as false is false), and rewrites the arguments before commander
 * parses them. Call it after the options are defined.
 */
export function goBooleanFlags(cmd: Command, stopAtOperand = false): Command {
  const longs = new Set(cmd.options.map((o) => o.long));
  for (const option of [...cmd.options]) {
    if (option.required || option.optional || option.negate || option.long === undefined) continue;
    if (option.long === '--help' || option.long === '--version') continue;
    const negation = `--no-${option.long.slice(2)}`;
    if (longs.has(negation)) continue;
    cmd.addOption(new Option(negation).hideHelp());
  }
  const parse = cmd.parseOptions.bind(cmd);
  cmd.parseOptions = (argv: string[]) => parse(rewriteBoolArgs(cmd, argv, stopAtOperand));
  return cmd;
}
