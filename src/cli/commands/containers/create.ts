import { existsSync, openSync, closeSync, unlinkSync, writeSync } from 'node:fs';

import type { Command } from 'commander';

import type { ContainerCreateRequest } from '../../../api/types/index.js';
import { ApiError } from '../../../client/client.js';
import { createContainer } from '../../../client/containers.js';
import {
  familiarString,
  parseAnyReference,
  pullImage,
  tagNameOnly,
  type ImageReference,
} from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import {
  ContainerFlagError,
  addContainerFlags,
  parseContainerFlags,
  type ContainerFlags,
} from '../../opts/container.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { DISCARD, displayJsonMessages, terminalOf } from '../../output/progress.js';
import { terminalSize } from '../../terminal.js';
import { registryAuthFor } from '../images/common.js';
import { runContainerCommand } from './common.js';

/** The flags `create` and `run` have beyond the container's configuration. */
export interface CreateFlags extends ContainerFlags {
  name?: string;
  platform?: string;
  pull?: string;
  quiet?: boolean;
}

/**
 * docker's validatePullOpt.
 * @throws Error `invalid pull option: 'x': must be one of "always", "missing" or "never"`.
 */
export function validatePullOpt(value: string | undefined): void {
  if (value === undefined || ['always', 'missing', 'never', ''].includes(value)) return;
  throw new Error(`invalid pull option: '${value}': must be one of "always", "missing" or "never"`);
}

/** The parse failure of `run`/`create`: `berth: …` and the help hint, status 125. */
export function usageError(message: string, command: string): CliError {
  return new CliError(`berth: ${message}\n\nRun 'berth ${command} --help' for more information`, 125);
}

/** Adds the flags shared by `create` and `run` (the container flags included). */
export function addCreateFlags(cmd: Command): Command {
  cmd
    .helpOption('--help', 'print usage')
    .option('--name <name>', 'assign a name to the container')
    .option('--pull <policy>', 'pull image before creating ("always", "missing", "never")', 'missing')
    .option('-q, --quiet', 'suppress the pull output')
    .option(
      '--platform <platform>',
      'set platform if server is multi-platform capable',
      process.env['DOCKER_DEFAULT_PLATFORM'] || undefined,
    );
  return addContainerFlags(cmd);
}

/**
 * Parses the flags into the create request, or fails as docker's parse does.
 * @throws CliError status 125.
 */
export function requestFromFlags(
  flags: CreateFlags,
  image: string,
  args: readonly string[],
  command: string,
): ContainerCreateRequest {
  try {
    validatePullOpt(flags.pull);
    return parseContainerFlags(flags, image, args);
  } catch (err) {
    if (err instanceof ContainerFlagError || err instanceof Error) throw usageError(err.message, command);
    throw err;
  }
}

/** docker's cidFile: refused when it exists, removed again when no ID was written. */
class CidFile {
  private readonly path: string;
  private fd: number | undefined;
  private written = false;

  constructor(path: string) {
    this.path = path;
    if (path === '') return;
    if (existsSync(path)) {
      throw new Error(
        `container ID file found, make sure the other container isn't running or delete ${path}`,
      );
    }
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new Error(`failed to create the container ID file: ${(err as Error).message}`, { cause: err });
    }
  }

  write(id: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, id);
    } catch (err) {
      throw new Error(`failed to write the container ID (${id}) to file: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.written = true;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    if (!this.written) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/** Pulls an image for run/create, showing the progress on stderr as docker does. */
async function pullForCreate(ctx: CliContext, image: string, flags: CreateFlags): Promise<void> {
  const res = await pullImage(ctx.client(), image, {
    platform: flags.platform || undefined,
    registryAuth: registryAuthFor(ctx, image),
  });
  if (flags.quiet) {
    await displayJsonMessages(res, DISCARD, { isTerminal: false });
    return;
  }
  const { isTerminal, width } = terminalOf(ctx.err);
  await displayJsonMessages(res, ctx.err, { isTerminal, width });
}

/**
 * docker's createContainer: pulls first with `--pull always`; creates; when
 * the image is missing and `--pull missing`, says `Unable to find image 'x'
 * locally` on stderr, pulls and creates again. Prints the daemon's warnings
 * and writes the `--cidfile`. Returns the new container's ID.
 */
export async function createWithPull(
  ctx: CliContext,
  request: ContainerCreateRequest,
  flags: CreateFlags,
): Promise<string> {
  const image = request.Image ?? '';
  const cid = new CidFile(request.HostConfig?.ContainerIDFile ?? '');
  try {
    const ref = parseAnyReference(image);
    const named: ImageReference | undefined = 'path' in ref ? tagNameOnly(ref) : undefined;
    if (flags.pull === 'always') await pullForCreate(ctx, image, flags);
    const body = { ...request };
    if (request.Tty) {
      const size = terminalSize(ctx.out);
      if (size.height > 0 || size.width > 0)
        body.HostConfig = { ...body.HostConfig, ConsoleSize: [size.height, size.width] };
    }
    const options = { name: flags.name || undefined, platform: flags.platform || undefined };
    let response;
    try {
      response = await createContainer(ctx.client(), body, options);
    } catch (err) {
      if (!(
        err instanceof ApiError &&
        err.status === 404 &&
        named &&
        (flags.pull ?? 'missing') === 'missing'
      )) {
        throw err;
      }
      if (!flags.quiet) ctx.err.write(`Unable to find image '${familiarString(named)}' locally\n`);
      await pullForCreate(ctx, image, flags);
      response = await createContainer(ctx.client(), body, options);
    }
    for (const w of response.Warnings ?? []) ctx.err.write(`WARNING: ${w}\n`);
    cid.write(response.Id);
    return response.Id;
  } finally {
    cid.close();
  }
}

/** `create [OPTIONS] IMAGE [COMMAND] [ARG...]`: creates a container and prints its ID. */
export function registerCreate(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('create')
    .description('Create a new container')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>', 'IMAGE')
    .argument('[command...]', 'COMMAND [ARG...]')
    .passThroughOptions();
  addCreateFlags(cmd);
  goBooleanFlags(cmd, true);
  return cmd.action((image: string, args: string[], flags: CreateFlags) =>
    runContainerCommand(async () => {
      const request = requestFromFlags(flags, image, args, 'create');
      const id = await createWithPull(ctx, request, flags);
      ctx.out.write(`${id}\n`);
    }),
  );
}
