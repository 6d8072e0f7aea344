import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DEFAULT_SOCKET, mergeSettings, parseHost, readConfigFile } from './config.js';

describe('mergeSettings', () => {
  it('gives the embedded defaults', () => {
    const c = mergeSettings({}, {}, '/etc/berth/daemon.json');
    assert.deepEqual(c.hosts, [`unix://${DEFAULT_SOCKET}`]);
    assert.equal(c.engine.dataRoot, '/var/lib/berth');
    assert.equal(c.engine.execRoot, '/run/berth');
    assert.equal(c.pidfile, '/run/berth/berthd.pid');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.engine.eventsRetentionAgeMs, 168 * 3600 * 1000);
    assert.equal(c.engine.eventsRetentionBytes, 128 * 1024 * 1024);
    assert.deepEqual(c.engine.runtimes, { runc: 'runc', crun: 'crun' });
  });
  it('takes flags and file values', () => {
    const c = mergeSettings(
      { 'data-root': '/d', hosts: ['unix:///a.sock', 'unix:///b.sock'] },
      { 'log-level': 'warn', labels: ['x=1'], runtimes: { myrt: { path: '/usr/bin/myrt' } } },
      'f',
    );
    assert.equal(c.engine.dataRoot, '/d');
    assert.deepEqual(c.hosts, ['unix:///a.sock', 'unix:///b.sock']);
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual(c.engine.labels, ['x=1']);
    assert.equal(c.engine.runtimes['myrt'], '/usr/bin/myrt');
  });
  it('refuses a setting given both ways, as dockerd does', () => {
    assert.throws(() => mergeSettings({ 'data-root': '/a' }, { 'data-root': '/b' }, 'f'), {
      message:
        'the following directives are specified both as a flag and in the configuration file: data-root: (from flag: /a, from file: /b)',
    });
  });
  it('validates values', () => {
    assert.throws(
      () => mergeSettings({ 'log-level': 'loud' }, {}, 'f'),
      /unable to parse logging level: loud/,
    );
    assert.throws(
      () => mergeSettings({ 'events-retention-age': 'forever' }, {}, 'f'),
      /events-retention-age/,
    );
    assert.throws(() => mergeSettings({ 'events-retention-size': '1k' }, {}, 'f'), /events-retention-size/);
    assert.throws(() => mergeSettings({ 'default-runtime': 'nope' }, {}, 'f'), /default runtime nope/);
  });
  it('debug implies the debug log level', () => {
    assert.equal(mergeSettings({ debug: true }, {}, 'f').logLevel, 'debug');
  });
});

describe('readConfigFile', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a valid file', async () => {
    const path = join(dir, 'ok.json');
    await writeFile(path, '{"data-root": "/x", "debug": true}');
    assert.deepEqual(await readConfigFile(path, true), { 'data-root': '/x', debug: true });
  });
  it('ignores a missing default file but not a missing explicit one', async () => {
    assert.deepEqual(await readConfigFile(join(dir, 'none.json'), false), {});
    await assert.rejects(
      readConfigFile(join(dir, 'none.json'), true),
      /unable to configure the berth daemon/,
    );
  });
  it('refuses unknown keys and bad types', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"data-rot": "/x"}');
    await assert.rejects(readConfigFile(path, true), /don't match any configuration option: data-rot/);
    await writeFile(path, '{"debug": "yes"}');
    await assert.rejects(readConfigFile(path, true), /debug: expected a boolean/);
    await writeFile(path, '{not json');
    await assert.rejects(readConfigFile(path, true), /unable to configure the berth daemon with file/);
  });
});

describe('parseHost', () => {
  it('reads unix and tcp addresses', () => {
    assert.deepEqual(parseHost('unix:///var/run/docker.sock'), {
      kind: 'unix',
      path: '/var/run/docker.sock',
    });
    assert.deepEqual(parseHost('/tmp/x.sock'), { kind: 'unix', path: '/tmp/x.sock' });
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHost('tcp://:2376'), { kind: 'tcp', host: '127.0.0.1', port: 2376 });
  });
  it('refuses bad addresses', () => {
    assert.throws(() => parseHost('http://x'), /unsupported protocol/);
    assert.throws(() => parseHost('unix://relative.sock'), /must be absolute/);
    assert.throws(() => parseHost(`unix:///${'x'.repeat(120)}`), /longer than 107/);
  });
});
