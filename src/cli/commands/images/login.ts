import { createInterface } from 'node:readline';

import type { Command } from 'commander';

import { ApiError } from '../../../client/client.js';
import { registryLogin } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { DockerConfigFile, INDEX_SERVER, convertToHostname, type StoredAuth } from '../../docker-config.js';
import { errorText, isTerminal, runCommand } from './common.js';

const REGISTER_SUGGEST =
  "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";

/** The warning docker prints once when it stores a password in the config file. */
export function unencryptedWarning(path: string): string {
  return (
    `\nWARNING! Your credentials are stored unencrypted in '${path}'.\n` +
    'Configure a credential helper to remove this warning. See\n' +
    'https://docs.docker.com/go/credential-store/\n\n'
  );
}

/** docker's readSecretFromStdin: all of stdin, less one trailing line ending. */
export async function readSecret(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  for (const eol of ['\r\n', '\n', '\r']) if (text.endsWith(eol)) return text.slice(0, -eol.length);
  return text;
}

/** Prints `prompt` and reads one line (trimmed), as docker's prompt.ReadInput. */
function readLine(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  prompt: string,
): Promise<string> {
  output.write(prompt);
  return new Promise((resolve) => {
    const rl = createInterface({ input, terminal: false });
    let done = false;
    rl.once('line', (line) => {
      done = true;
      rl.close();
      resolve(line.trim());
    });
    rl.once('close', () => {
      if (!done) resolve('');
    });
  });
}

/** Reads a line from a terminal without echoing it (docker's DisableInputEcho + ReadInput). */
function readHidden(output: NodeJS.WritableStream, prompt: string): Promise<string> {
  const stdin = process.stdin;
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      if (err) reject(err);
      else resolve(value.trim());
    };
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new CliError('', 130));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function authenticate(
  ctx: CliContext,
  auth: StoredAuth,
): Promise<{ status: string; auth: StoredAuth }> {
  const res = await registryLogin(ctx.client(), {
    username: auth.username,
    password: auth.password,
    serveraddress: auth.serveraddress,
    ...(auth.identitytoken ? { identitytoken: auth.identitytoken } : {}),
    ...(auth.registrytoken ? { registrytoken: auth.registrytoken } : {}),
  });
  const stored: StoredAuth = { ...auth };
  if (res.IdentityToken) {
    stored.password = '';
    stored.identitytoken = res.IdentityToken;
  }
  return { status: res.Status ?? '', auth: stored };
}

function store(ctx: CliContext, config: DockerConfigFile, auth: StoredAuth): void {
  try {
    if (config.storeAuth(auth)) config.save();
  } catch (err) {
    throw new CliError(`Error saving credentials: ${(err as Error).message}`);
  }
  // A credential helper keeps them encrypted (or wherever it keeps them): no warning then.
  if (auth.password !== '' && config.helperFor(auth.serveraddress) === undefined)
    ctx.err.write(unencryptedWarning(config.path));
}

/**
 * `login [OPTIONS] [SERVER]`: checks the credentials with the daemon
 * (`POST /auth`) and stores them in the docker config file. Without `-u`/`-p`
 * it first tries the stored credentials, then prompts (on a terminal only).
 */
export function registerLogin(parent: Command, ctx: CliContext): Command {
  const cmd: Command = parent
    .command('login')
    .summary('Authenticate to a registry')
    .description('Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.')
    .argument('[server]', 'SERVER')
    .option('-u, --username <username>', 'username')
    .option('-p, --password <password>', 'password or Personal Access Token (PAT), or "-" to read from stdin')
    .option('--password-stdin', 'take the password or Personal Access Token (PAT) from stdin')
    .action((server: string | undefined, opts: LoginFlags) =>
      runCommand(async () => {
        const changed = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
        let user = opts.username ?? '';
        let password = opts.password ?? '';
        let passwordStdin = opts.passwordStdin === true;
        if (passwordStdin || password === '-') {
          if (changed('password') && password !== '-') {
            throw new CliError('conflicting options: cannot specify both --password and --password-stdin');
          }
          if (!changed('username'))
            throw new CliError('the --password-stdin option requires --username to be set');
        }
        if (changed('username') && user === '') throw new CliError('username is empty');
        if (changed('password') && password === '') throw new CliError('password is empty');
        if (password === '-') {
          password = '';
          passwordStdin = true;
        }
        if (password !== '') {
          ctx.err.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
        }
        if (passwordStdin) {
          if (user === '') throw new CliError('username is empty');
          password = await readSecret(process.stdin);
          if (password.trim() === '') throw new CliError('password is empty');
        }

        let serverAddress =
          server !== undefined && server !== '' && server !== 'docker.io' ? server : INDEX_SERVER;
        const isDefault = serverAddress === INDEX_SERVER;
        if (!isDefault) serverAddress = convertToHostname(serverAddress);

        let config: DockerConfigFile;
        try {
          config = DockerConfigFile.load();
        } catch (err) {
          throw new CliError(`Error loading config file: ${(err as Error).message}`);
        }

        let stored: StoredAuth | undefined;
        if (user === '' && password === '') {
          try {
            stored = config.getAuth(serverAddress);
          } catch {
            stored = undefined; // a failing helper: ask for the credentials, as docker does
          }
        }
        let status: string | undefined;
        if (stored && stored.username !== '' && stored.password !== '') {
          ctx.err.write(`Authenticating with existing credentials... [Username: ${stored.username}]\n`);
          ctx.err.write(
            "\n Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n",
          );
          try {
            const result = await authenticate(ctx, stored);
            store(ctx, config, result.auth);
            status = result.status;
          } catch (err) {
            if (err instanceof ApiError && err.status === 401) {
              ctx.err.write('Stored credentials invalid or expired\n');
            } else {
              ctx.err.write(`Login did not succeed, error: ${errorText(err)}\n`);
            }
          }
        }

        if (status === undefined) {
          const defaultUser = stored?.username ?? '';
          if ((user === '' || password === '') && !isTerminal(process.stdin)) {
            throw new CliError('Error: Cannot perform an interactive login from a non TTY device');
          }
          if (user.trim() === '') {
            if (serverAddress === INDEX_SERVER) ctx.out.write(REGISTER_SUGGEST + '\n');
            const prompt = defaultUser.trim() === '' ? 'Username: ' : `Username (${defaultUser.trim()}): `;
            user = await readLine(process.stdin, ctx.out, prompt);
            if (user === '') user = defaultUser.trim();
            if (user === '') throw new CliError('Error: Non-null Username Required');
          }
          if (password.trim() === '') {
            password = await readHidden(ctx.out, 'Password: ');
            ctx.out.write('\n');
            if (password === '') throw new CliError('Error: Password Required');
          }
          const result = await authenticate(ctx, {
            username: user.trim(),
            password,
            serveraddress: serverAddress,
          });
          store(ctx, config, result.auth);
          status = result.status;
        }
        if (status !== '') ctx.out.write(status + '\n');
      }),
    );
  return cmd;
}
