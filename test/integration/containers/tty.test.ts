// Interactive terminals with the official CLI against a real berthd, driven
// through tmux: `docker run -it`, `docker exec -it`, window resizes, and
// detaching with ctrl-p ctrl-q. Each tmux runs on a server socket of its own
// (-L) and is killed in `finally`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DOCKER, run } from '../../helpers/cli.js';
import {
  containerExists,
  dockerOk,
  inspectContainer,
  leakCheck,
  startContainerDaemon,
  teardown,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/poll.js';

/** A tmux server of the test's own with one session running a command in a 100x30 window. */
class TmuxSession {
  readonly server = `berth-tty-${randomBytes(4).toString('hex')}`;
  readonly name = 's';

  private async tmux(args: string[]): Promise<string> {
    const res = await run('tmux', ['-L', this.server, '-f', '/dev/null', ...args], { timeoutMs: 10_000 });
    assert.equal(res.code, 0, `tmux ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  }

  /** Starts the session; the pane stays after the command exits, with a line saying its exit status. */
  async start(command: string): Promise<void> {
    const wrapped = `${command}; echo "[exit $?]"`;
    await this.tmux([
      'new-session',
      '-d',
      '-s',
      this.name,
      '-x',
      '100',
      '-y',
      '30',
      wrapped,
      ';',
      'set-option',
      '-t',
      this.name,
      'remain-on-exit',
      'on',
    ]);
  }

  async sendKeys(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', this.name, ...keys]);
  }

  /** The pane's text, history included. */
  async capture(): Promise<string> {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-100', '-t', this.name]);
  }

  async waitForText(pattern: RegExp, what: string): Promise<string> {
    let text = '';
    await waitFor(
      async () => {
        text = await this.capture();
        return pattern.test(text);
      },
      { timeoutMs: 15_000, intervalMs: 100, what },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; the pane shows:\n${text}`, { cause: err });
    });
    return text;
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux(['resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)]);
  }

  /**
   * The command's exit status, from the line the wrapper prints after it
   * (tmux's own pane_dead_status is not reliable here: it may not reap the
   * command for a long while).
   */
  async waitForExit(): Promise<number> {
    const text = await this.waitForText(/\[exit \d+\]$/m, 'the command in tmux to exit');
    return Number(/\[exit (\d+)\]$/m.exec(text)?.[1]);
  }

  /** Kills this test's own tmux server (by its socket name), whatever state it is in. */
  async kill(): Promise<void> {
    await run('tmux', ['-L', this.server, 'kill-server'], { timeoutMs: 10_000 }).catch(() => undefined);
  }
}

const PROMPT = /^\/ # /m;

describe('interactive terminals (tmux)', () => {
  let daemon: TestDaemon;
  let dockerConfig = '';
  before(async () => {
    daemon = await startContainerDaemon();
    dockerConfig = await mkdtemp(join(tmpdir(), 'berth-tty-docker-config-'));
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'tty-target',
      'busybox',
      'sh',
      '-c',
      'trap "exit 0" TERM; while true; do sleep 0.1; done',
    ]);
  });
  after(async () => {
    await teardown(daemon);
    await rm(dockerConfig, { recursive: true, force: true });
  });

  const dockerCommand = (args: string): string =>
    `DOCKER_HOST=${daemon.host} DOCKER_CONFIG=${dockerConfig} DOCKER_CLI_HINTS=false ${DOCKER} ${args}`;

  it('docker run -it --rm: a shell on a terminal of the window’s size, resized with it', async () => {
    const tmux = new TmuxSession();
    try {
      await tmux.start(dockerCommand('run -it --rm --name tty-run busybox sh'));
      await tmux.waitForText(PROMPT, 'the shell prompt');
      await tmux.sendKeys('echo $((6*7)); stty size; tty; echo "TERM=$TERM"', 'Enter');
      const text = await tmux.waitForText(/^TERM=\S+$/m, 'the answers');
      assert.match(text, /^42$/m);
      assert.match(text, /^30 100$/m);
      assert.match(text, /^\/dev\/pts\/\d+$/m);
      assert.match(text, /^TERM=xterm$/m);
      const info = await inspectContainer(daemon, 'tty-run');
      assert.equal(info.Config.Tty, true);
      assert.equal(info.Config.OpenStdin, true);

      // The CLI passes the window change on (SIGWINCH → resize request) a moment later: ask until it has landed.
      await tmux.resize(120, 40);
      await waitFor(
        async () => {
          await tmux.sendKeys('stty size', 'Enter');
          await new Promise((r) => setTimeout(r, 200));
          return /^40 120$/m.test(await tmux.capture());
        },
        { timeoutMs: 10_000, what: 'the new size inside the container' },
      );

      await tmux.sendKeys('exit 3', 'Enter');
      assert.equal(await tmux.waitForExit(), 3, 'docker run exits with the shell’s code');
      await waitFor(async () => !(await containerExists(daemon, 'tty-run')), {
        what: '--rm to remove the container',
      });
    } finally {
      await tmux.kill();
    }
  });

  let execPane = '';

  it('docker exec -it: a shell in a running container on a terminal of the window’s size', async () => {
    const tmux = new TmuxSession();
    try {
      await tmux.start(dockerCommand('exec -it tty-target sh'));
      await tmux.waitForText(PROMPT, 'the shell prompt');
      await tmux.sendKeys('echo $((6*7)); stty size; echo "PID1=$(cat /proc/1/comm)"', 'Enter');
      const text = await tmux.waitForText(/^PID1=\S+$/m, 'the answers');
      assert.match(text, /^42$/m);
      assert.match(text, /^30 100$/m);
      assert.match(text, /^PID1=sh$/m, 'the exec runs in the container’s pid namespace');
      await tmux.sendKeys('exit', 'Enter');
      assert.equal(await tmux.waitForExit(), 0);
      execPane = await tmux.capture();
      assert.equal(
        (await inspectContainer(daemon, 'tty-target')).State.Running,
        true,
        'the container keeps running',
      );
    } finally {
      await tmux.kill();
    }
  });

  it('docker exec -it: the shell gets only what is typed', () => {
    assert.ok(execPane !== '', 'the exec -it test ran');
    assert.doesNotMatch(execPane, /not found/, `stray input reached the shell:\n${execPane}`);
    assert.doesNotMatch(execPane, /Detach/);
  });

  it('ctrl-p ctrl-q detaches from docker run -it and leaves the container running', async () => {
    const tmux = new TmuxSession();
    try {
      await tmux.start(dockerCommand('run -it --name tty-detach busybox sh'));
      await tmux.waitForText(PROMPT, 'the shell prompt');
      await tmux.sendKeys('echo before-detach > /tmp/mark; echo marked', 'Enter');
      await tmux.waitForText(/^marked$/m, 'the command to run');
      await tmux.sendKeys('C-p', 'C-q');
      assert.equal(await tmux.waitForExit(), 0, 'docker run returns after the detach keys');
      const info = await inspectContainer(daemon, 'tty-detach');
      assert.equal(info.State.Status, 'running', 'the container keeps running after the detach');
      const check = await dockerOk(daemon, ['exec', 'tty-detach', 'cat', '/tmp/mark']);
      assert.equal(check.stdout, 'before-detach\n');
    } finally {
      await tmux.kill();
    }
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await dockerOk(daemon, ['rm', '-f', 'tty-detach']);
    await leakCheck(daemon);
  });
});
