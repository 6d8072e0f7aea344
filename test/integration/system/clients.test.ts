import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import Docker from 'dockerode';

import { run } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';

/** Debian's python3 with Debian's python3-docker (docker-py), installed by scripts/setup.sh. */
const PYTHON = '/usr/bin/python3';

describe('third-party clients against berthd', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  it('dockerode: ping, version, info and a past event stream', async () => {
    const docker = new Docker({ socketPath: daemon.socket });
    const pong = (await docker.ping()) as Buffer | string;
    assert.equal(pong.toString(), 'OK');
    const version = await docker.version();
    assert.equal(version.ApiVersion, '1.47');
    assert.equal(version.Os, 'linux');
    const info = (await docker.info()) as { DockerRootDir: string; OSType: string };
    assert.equal(info.DockerRootDir, daemon.dataRoot);
    const stream = await docker.getEvents({ since: 0, until: Math.ceil(Date.now() / 1000) + 1 });
    let text = '';
    for await (const chunk of stream) text += (chunk as Buffer).toString();
    const first = JSON.parse(text.split('\n')[0] ?? '') as { Type: string; Action: string };
    assert.deepEqual([first.Type, first.Action], ['daemon', 'start']);
  });

  it('docker-py: version negotiation, info and events', async () => {
    const script = `
import json, sys, time, docker
c = docker.DockerClient(base_url=sys.argv[1], version='auto')
v = c.version()
info = c.info()
evs = list(c.events(since=0, until=int(time.time()) + 1, decode=True))
print(json.dumps({'api': c.api.api_version, 'server': v['ApiVersion'], 'root': info['DockerRootDir'],
                  'first': [evs[0]['Type'], evs[0]['Action']]}))
`;
    const res = await run(PYTHON, ['-c', script, daemon.host]);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { api: string; server: string; root: string; first: string[] };
    assert.equal(out.api, '1.47');
    assert.equal(out.server, '1.47');
    assert.equal(out.root, daemon.dataRoot);
    assert.deepEqual(out.first, ['daemon', 'start']);
  });
});
