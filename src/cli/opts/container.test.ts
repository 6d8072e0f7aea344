import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Command } from 'commander';

import { CliError } from '../context.js';
import { addContainerFlags, parseContainerFlags, type ContainerFlags } from './container.js';
import { goBooleanFlags, rewriteBoolArgs } from './flags.js';

/** Parses `run`-style arguments with the real commander setup; returns what the action gets. */
function parseArgs(args: string[]): { image: string; cmd: string[]; flags: ContainerFlags } {
  const program = new Command('berth').exitOverride().enablePositionalOptions();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  let got: { image: string; cmd: string[]; flags: ContainerFlags } | undefined;
  const run = program
    .command('run')
    .helpOption('--help')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions()
    .exitOverride();
  addContainerFlags(run);
  run.option('--name <name>', 'x');
  goBooleanFlags(run, true);
  run.action((image: string, cmd: string[], flags: ContainerFlags) => {
    got = { image, cmd, flags };
  });
  program.parse(['node', 'berth', 'run', ...args]);
  if (!got) throw new Error('action not called');
  return got;
}

const opts = { lookupEnv: (name: string) => (name === 'HOME' ? '/root' : undefined), cwd: '/work' };

describe('run/create flags to ContainerCreateRequest', () => {
  it('maps a plain run', () => {
    const { image, cmd, flags } = parseArgs(['alpine', 'echo', 'hi']);
    assert.deepEqual(parseContainerFlags(flags, image, cmd, opts), {
      Hostname: '',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Image: 'alpine',
      Cmd: ['echo', 'hi'],
      HostConfig: {
        RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
        OomKillDisable: false,
        PidsLimit: 0,
        Ulimits: [],
      },
    });
  });

  it('maps the common flags as docker opts.go does', () => {
    const { image, cmd, flags } = parseArgs([
      '-it',
      '--rm',
      '--name=ignored-here',
      '-e',
      'A=1',
      '-e',
      'HOME',
      '-w',
      '/app',
      '-u',
      '1000:1000',
      '-v',
      '/host:/ctr:ro',
      '-v',
      '/anon',
      '--tmpfs',
      '/run:size=1m',
      '-m',
      '512m',
      '--memory-swap=-1',
      '--cpus',
      '1.5',
      '--pids-limit',
      '100',
      '-p',
      '8080:80',
      '--expose',
      '9000',
      '-l',
      'a=b',
      '--init',
      '--entrypoint',
      '',
      '--health-cmd',
      'true',
      '--health-interval',
      '30s',
      '--health-retries',
      '3',
      '--cap-add',
      'net_admin',
      '--read-only',
      '--shm-size',
      '64m',
      '--sysctl',
      'net.core.somaxconn=1024',
      '--ulimit',
      'nofile=10:20',
      '--hostname',
      'box',
      '--stop-signal',
      'SIGINT',
      '--stop-timeout',
      '5',
      '--log-driver',
      'json-file',
      '--log-opt',
      'max-size=1m',
      '--dns',
      '1.1.1.1',
      '--add-host',
      'db:10.0.0.2',
      '--runtime',
      'runc',
      'alpine',
      'sh',
      '-c',
      'echo hi',
    ]);
    assert.equal((flags as { name?: string }).name, 'ignored-here');
    assert.deepEqual(cmd, ['sh', '-c', 'echo hi']);
    assert.deepEqual(parseContainerFlags(flags, image, cmd, opts), {
      Hostname: 'box',
      Domainname: '',
      User: '1000:1000',
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: true,
      OpenStdin: true,
      StdinOnce: true,
      Image: 'alpine',
      ExposedPorts: { '80/tcp': {}, '9000/tcp': {} },
      Env: ['A=1', 'HOME=/root'],
      Cmd: ['sh', '-c', 'echo hi'],
      Volumes: { '/anon': {} },
      Entrypoint: [''],
      WorkingDir: '/app',
      Labels: { a: 'b' },
      StopSignal: 'SIGINT',
      StopTimeout: 5,
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 30_000_000_000, Retries: 3 },
      HostConfig: {
        Binds: ['/host:/ctr:ro'],
        AutoRemove: true,
        PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
        Dns: ['1.1.1.1'],
        ExtraHosts: ['db:10.0.0.2'],
        CapAdd: ['net_admin'],
        RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
        ReadonlyRootfs: true,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } },
        ShmSize: 64 * 1024 * 1024,
        Tmpfs: { '/run': 'size=1m' },
        Sysctls: { 'net.core.somaxconn': '1024' },
        Runtime: 'runc',
        OomKillDisable: false,
        Memory: 512 * 1024 * 1024,
        MemorySwap: -1,
        NanoCpus: 1_500_000_000,
        PidsLimit: 100,
        Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }],
        Init: true,
      },
    });
  });

  it('maps networks, aliases and addresses', () => {
    const { image, cmd, flags } = parseArgs([
      '--network',
      'app',
      '--network-alias',
      'web',
      '--ip',
      '10.1.0.5',
      '--restart',
      'on-failure:2',
      'nginx',
    ]);
    const req = parseContainerFlags(flags, image, cmd, opts);
    assert.equal(req.HostConfig?.NetworkMode, 'app');
    assert.deepEqual(req.HostConfig?.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.deepEqual(req.NetworkingConfig, {
      EndpointsConfig: { app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.5' } } },
    });
    const host = parseArgs(['--net=host', 'nginx']);
    const hostReq = parseContainerFlags(host.flags, host.image, host.cmd, opts);
    assert.equal(hostReq.HostConfig?.NetworkMode, 'host');
    assert.equal(hostReq.NetworkingConfig, undefined);
  });

  it('fails as docker parse() does', () => {
    const fail = (args: string[], message: string): void => {
      const { image, cmd, flags } = parseArgs(args);
      assert.throws(() => parseContainerFlags(flags, image, cmd, opts), { message });
    };
    fail(['--rm', '--restart', 'always', 'x'], 'conflicting options: cannot specify both --restart and --rm');
    fail(
      ['--no-healthcheck', '--health-cmd', 'true', 'x'],
      '--no-healthcheck conflicts with --health-* options',
    );
    fail(['--health-interval', '-1s', 'x'], '--health-interval cannot be negative');
    fail(['--memory-swappiness', '101', 'x'], 'invalid value: 101. Valid memory swappiness range is 0-100');
    fail(
      ['--network-alias', 'a', 'x'],
      'network-scoped aliases are only supported for user-defined networks',
    );
    fail(
      ['--network', 'host', '--network', 'app', 'x'],
      'conflicting options: cannot attach both user-defined and non-user-defined network-modes',
    );
    fail(['--network', 'a', '--network', 'a', 'x'], 'network "a" is specified multiple times');
    fail(['--pid', 'bogus', 'x'], '--pid: invalid PID mode');
    fail(['--env-file', '/nonexistent/env', 'x'], 'open /nonexistent/env: no such file or directory');
    fail(
      ['--expose', 'abc', 'x'],
      'invalid range format for --expose: abc, error: strconv.ParseUint: parsing "abc": invalid syntax',
    );
    fail(['--mac-address', 'zz', 'x'], 'zz is not a valid mac address');
    fail(['--expose', '1:2', 'x'], 'invalid port format for --expose: 1:2');
    fail(['-p', '80/sctpx', 'x'], 'invalid proto: sctpx');
  });

  it('sets --no-healthcheck, -a and --init=false', () => {
    const { image, cmd, flags } = parseArgs(['--no-healthcheck', '-a', 'stdout', '--init=false', 'x']);
    const req = parseContainerFlags(flags, image, cmd, opts);
    assert.deepEqual(req.Healthcheck, { Test: ['NONE'] });
    assert.equal(req.AttachStdout, true);
    assert.equal(req.AttachStderr, false);
    assert.equal(req.HostConfig?.Init, false);
  });

  it('refuses bad flag values while parsing flags, with status 125', () => {
    const fail = (args: string[], message: string): void => {
      assert.throws(
        () => parseArgs(args),
        (err: unknown) => err instanceof CliError && err.exitCode === 125 && err.message === message,
      );
    };
    fail(['-m', '1x', 'x'], 'invalid argument "1x" for "-m, --memory" flag: invalid suffix: \'x\'');
    fail(['-e', '=a', 'x'], 'invalid argument "=a" for "-e, --env" flag: invalid environment variable: =a');
    fail(
      ['--dns', 'nope', 'x'],
      'invalid argument "nope" for "--dns" flag: IP address is not correctly formatted: nope',
    );
    fail(
      ['--cpus', 'lots', 'x'],
      'invalid argument "lots" for "--cpus" flag: failed to parse lots as a rational number',
    );
    fail(
      ['--health-timeout', '5', 'x'],
      'invalid argument "5" for "--health-timeout" flag: time: missing unit in duration "5"',
    );
    fail(
      ['--ulimit', 'bad', 'x'],
      'invalid argument "bad" for "--ulimit" flag: invalid ulimit argument: bad',
    );
    fail(
      ['--rm=perhaps', 'x'],
      'invalid argument "perhaps" for "--rm" flag: strconv.ParseBool: parsing "perhaps": invalid syntax',
    );
  });

  it('stops reading flags at the image, as docker run does', () => {
    const { image, cmd, flags } = parseArgs(['-i', 'alpine', 'ls', '-la', '--rm=false']);
    assert.equal(image, 'alpine');
    assert.deepEqual(cmd, ['ls', '-la', '--rm=false']);
    assert.equal(flags.rm, undefined);
  });

  it('rewrites Go boolean flag values for commander', () => {
    const cmd = new Command('x').option('--rm').option('-e, --env <v>').option('--name <n>');
    assert.deepEqual(
      rewriteBoolArgs(cmd, ['--rm=false', '-e', '--rm=true', '--name', 'n', 'img', '--rm=0'], true),
      ['--no-rm', '-e', '--rm=true', '--name', 'n', 'img', '--rm=0'],
    );
    assert.deepEqual(rewriteBoolArgs(cmd, ['--rm=1', 'img', '--rm=0'], false), ['--rm', 'img', '--no-rm']);
  });
});
