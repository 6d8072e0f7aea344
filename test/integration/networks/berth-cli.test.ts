// The berth CLI's network, port, system df and system prune commands
// against a real berthd, checked against what the official docker CLI
// prints for the same daemon where both can run.
//
// Traffic goes only to 127.0.0.1 and to the containers these tests start.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth, docker, type RunResult } from '../../helpers/cli.js';
import { dockerOk, inspectContainer, startContainerDaemon, teardown } from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { busyboxImage, dockerSaveTarball } from '../../helpers/images.js';
import { waitFor } from '../../helpers/poll.js';
import { deleteLink, freePort, hostLinks } from './net-helpers.js';

describe('the berth CLI: network, port, system df, system prune', () => {
  let daemon: TestDaemon;
  const networkIds = new Set<string>();

  before(async () => {
    daemon = await startContainerDaemon();
  });
  after(async () => {
    const ids = (await docker(daemon.host, ['ps', '-aq'])).stdout.split('\n').filter((l) => l !== '');
    if (ids.length > 0) await docker(daemon.host, ['rm', '-f', ...ids], { timeoutMs: 60_000 });
    const nets = await docker(daemon.host, ['network', 'ls', '-q', '--no-trunc', '--filter', 'type=custom']);
    for (const id of nets.stdout.split('\n').filter((l) => l !== '')) {
      networkIds.add(id);
      await docker(daemon.host, ['network', 'rm', id]);
    }
    await docker(daemon.host, ['volume', 'prune', '-af']);
    await teardown(daemon);
    // teardown() stops the daemon before it could list the networks' bridges.
    const left = new Set((await hostLinks()).map((l) => l.ifname));
    for (const id of networkIds) {
      const name = `bth-${id.slice(0, 11)}`;
      if (left.has(name)) await deleteLink(name);
    }
  });

  const b = (args: string[], input?: string): Promise<RunResult> =>
    berth(daemon.host, args, input !== undefined ? { input } : {});
  const bOk = async (args: string[], input?: string): Promise<string> => {
    const res = await b(args, input);
    assert.equal(res.code, 0, `berth ${args.join(' ')} exited ${String(res.code)}\n${res.stderr}`);
    return res.stdout;
  };
  const dOk = async (args: string[]): Promise<string> => (await dockerOk(daemon, args)).stdout;
  /** The same command through both CLIs: the same stdout, stderr and status. */
  const same = async (args: string[], input?: string): Promise<RunResult> => {
    const ours = await b(args, input);
    const theirs = await docker(daemon.host, args, input !== undefined ? { input } : {});
    assert.equal(ours.stdout, theirs.stdout, `stdout of ${args.join(' ')}`);
    assert.equal(ours.stderr, theirs.stderr, `stderr of ${args.join(' ')}`);
    assert.equal(ours.code, theirs.code, `status of ${args.join(' ')}`);
    return ours;
  };

  it('berth network create, ls and inspect print what docker prints', async () => {
    const id = (
      await bOk([
        'network',
        'create',
        '--driver',
        'bridge',
        '--subnet',
        '10.233.81.0/24',
        '--gateway',
        '10.233.81.1',
        '--ip-range',
        '10.233.81.0/25',
        '--label',
        'team=blue',
        '--label',
        'tier',
        '-o',
        'com.example.x=y',
        '--attachable',
        'bn1',
      ])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    networkIds.add(id);
    const internal = (await bOk(['network', 'create', '--internal', 'bn2'])).trim();
    networkIds.add(internal);

    const net = JSON.parse(await dOk(['network', 'inspect', 'bn1'])) as {
      Id: string;
      Labels: Record<string, string>;
      Options: Record<string, string>;
      Attachable: boolean;
      IPAM: { Config: unknown[] };
    }[];
    assert.equal(net[0]?.Id, id);
    assert.deepEqual(net[0]?.Labels, { team: 'blue', tier: '' });
    assert.deepEqual(net[0]?.Options, { 'com.example.x': 'y' });
    assert.equal(net[0]?.Attachable, true);
    assert.deepEqual(net[0]?.IPAM.Config, [
      { Subnet: '10.233.81.0/24', Gateway: '10.233.81.1', IPRange: '10.233.81.0/25' },
    ]);
    assert.equal((await dOk(['network', 'inspect', '-f', '{{.Internal}}', 'bn2'])).trim(), 'true');

    // docker 28 joins labels in Go's random map order (newer ones sort them, as berth does).
    const sortLabels = (text: string): string =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const row = JSON.parse(l) as { Labels: string };
          return JSON.stringify({ ...row, Labels: row.Labels.split(',').sort().join(',') });
        })
        .join('\n');
    const ourJson = await bOk(['network', 'ls', '--format', 'json']);
    assert.equal(sortLabels(ourJson), sortLabels(await dOk(['network', 'ls', '--format', 'json'])));
    assert.match(ourJson, /"Labels":"team=blue,tier=","Name":"bn1"/);
    for (const args of [
      ['network', 'ls'],
      ['network', 'ls', '--no-trunc'],
      ['network', 'ls', '-q'],
      ['network', 'ls', '--filter', 'driver=bridge', '--filter', 'label=team'],
      ['network', 'ls', '--format', 'json', '--filter', 'name=bn2'],
      ['network', 'ls', '--format', '{{.ID}} {{.Label "team"}}', '-f', 'name=bn'],
      ['network', 'inspect', 'bn1', 'bridge'],
      ['network', 'inspect', '--format', '{{.Name}} {{.IPAM.Config}} {{.Labels.team}}', 'bn1'],
      ['network', 'inspect', '-f', 'json', 'bn2'],
      ['network', 'inspect', id.slice(0, 6)],
      ['network', 'inspect', 'bn1', 'nosuchnet'],
      ['network', 'create', 'bn1'],
      ['network', 'create', '--subnet', '10.233.81.0/25', 'clash'],
      ['network', 'create', '--gateway', '10.0.0.1', 'nosub'],
      ['network', 'create', '--subnet', '10.1.0.0/24', '--gateway', '10.2.0.1', 'badgw'],
    ]) {
      await same(args);
    }
    // The same random order in a table's {{.Labels}} column: docker's lists are
    // compared sorted (the column is as wide either way), berth's as printed.
    const table = ['network', 'ls', '--format', 'table {{.Name}}\t{{.Labels}}\t{{.Internal}}'];
    const sortLabelLists = (text: string): string =>
      text.replace(/[^\s,]+=[^\s,]*(?:,[^\s,]+=[^\s,]*)+/g, (list) => list.split(',').sort().join(','));
    const ourTable = await bOk(table);
    assert.equal(ourTable, sortLabelLists(await dOk(table)));
    assert.match(ourTable, /^bn1 +team=blue,tier= +false$/m);
  });

  it('berth network connect and disconnect, with --alias and --ip, and -f', async () => {
    await dOk(['run', '-d', '--name', 'srv', '--network', 'bn1', 'busybox', 'sleep', '600']);
    await dOk(['run', '-d', '--name', 'side', 'busybox', 'sleep', '600']);
    assert.equal(
      await bOk(['network', 'connect', '--alias', 'sidekick,helper', '--ip', '10.233.81.77', 'bn1', 'side']),
      '',
    );
    const addrs = await dOk(['exec', 'side', 'busybox', 'ip', '-o', '-4', 'addr']);
    assert.match(addrs, /^\d+: eth1 +inet 10\.233\.81\.77\/24 /m);
    for (const name of ['sidekick', 'helper', 'side']) {
      const ping = await dOk(['exec', 'srv', 'ping', '-c', '1', '-W', '2', name]);
      assert.match(ping, /^PING \S+ \(10\.233\.81\.77\)/m, `${name} resolves on bn1`);
    }
    const aliases = await dOk(['inspect', '-f', '{{json .NetworkSettings.Networks.bn1.Aliases}}', 'side']);
    assert.deepEqual(JSON.parse(aliases), ['sidekick', 'helper']);
    await same(['network', 'connect', 'bn1', 'side']);
    await same(['network', 'connect', 'bn1', 'nosuchcontainer']);
    await same(['network', 'connect', 'nosuchnet', 'side']);

    assert.equal(await bOk(['network', 'disconnect', 'bn1', 'side']), '');
    assert.doesNotMatch(await dOk(['exec', 'side', 'busybox', 'ip', '-o', 'link']), /eth1/);
    await same(['network', 'disconnect', 'bn1', 'side']);
    await same(['network', 'disconnect', 'bn1', 'nosuchcontainer']);
    assert.equal(await bOk(['network', 'disconnect', '-f', 'bn1', 'nosuchcontainer']), '');
  });

  it('berth network rm removes several and reports the rest as docker does', async () => {
    await bOk(['network', 'create', 'gone1']);
    await bOk(['network', 'create', 'gone2']);
    const res = await b(['network', 'rm', 'gone1', 'nosuchnet', 'bn1', 'gone2']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, 'gone1\ngone2\n');
    const lines = res.stderr.split('\n');
    assert.equal(lines[0], 'Error response from daemon: network nosuchnet not found');
    assert.match(
      lines[1] ?? '',
      /^Error response from daemon: error while removing network: network bn1 has active endpoints/,
    );
    assert.equal(lines[2], 'exit status 1');
    assert.equal(await bOk(['network', 'rm', '-f', 'nosuchnet']), '');
    await same(['network', 'rm', 'host']);
    await same(['network', 'remove', 'nosuchnet']);
  });

  it('berth network prune asks first, and prunes with -f', async () => {
    await bOk(['network', 'create', 'idle1']);
    await bOk(['network', 'create', '--label', 'keep=1', 'idle2']);
    const declined = await b(['network', 'prune'], 'n\n');
    assert.equal(declined.code, 0);
    assert.equal(
      declined.stdout,
      'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ',
    );
    assert.match(await dOk(['network', 'ls']), /idle1/);
    assert.equal(
      await bOk(['network', 'prune', '-f', '--filter', 'label=keep']),
      'Deleted Networks:\nidle2\n\n',
    );
    const confirmed = await bOk(['network', 'prune'], 'y\n');
    assert.match(confirmed, /^WARNING! .*\[y\/N\] Deleted Networks:\n/s);
    const deleted = confirmed
      .split('Deleted Networks:\n')[1]
      ?.split('\n')
      .filter((l) => l !== '')
      .sort();
    assert.deepEqual(deleted, ['bn2', 'idle1']);
    assert.equal(await bOk(['network', 'prune', '-f']), '');
  });

  it('berth port shows published ports as docker port does', async () => {
    const port = await freePort();
    await dOk([
      'run',
      '-d',
      '--name',
      'web',
      '-p',
      `127.0.0.1:${port}:80`,
      '-p',
      '127.0.0.1::81/udp',
      'busybox',
      'sh',
      '-c',
      'mkdir -p /srv && echo berth-port > /srv/index.html && exec httpd -f -p 80 -h /srv',
    ]);
    await same(['port', 'web']);
    await same(['port', 'web', '80']);
    await same(['port', 'web', '80/tcp']);
    await same(['port', 'web', '81/udp']);
    assert.equal(await bOk(['port', 'web', '80']), `127.0.0.1:${port}\n`);
    assert.equal(await bOk(['container', 'port', 'web', '80/tcp']), `127.0.0.1:${port}\n`);
    const missing = await b(['port', 'web', '82']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no public port '82' published for web/i);
    let body = '';
    await waitFor(
      async () => {
        body = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(3000) })
          .then((r) => r.text())
          .catch(() => '');
        return body !== '';
      },
      { timeoutMs: 10_000, what: 'the published port' },
    );
    assert.equal(body, 'berth-port\n');
  });

  it('berth system df prints docker’s summary, -v tables and --format output', async () => {
    await dOk(['volume', 'create', 'dfvol']);
    await dOk([
      'run',
      '-d',
      '--name',
      'writer',
      '-v',
      'dfvol:/data',
      'busybox',
      'sh',
      '-c',
      'echo data > /data/f; dd if=/dev/zero of=/blob bs=1k count=64 2>/dev/null; sleep 600',
    ]);
    await dOk(['create', '--name', 'idle', 'busybox', 'true']);
    await waitFor(async () => (await dOk(['exec', 'writer', 'ls', '/blob'])).trim() === '/blob', {
      what: '/blob',
    });
    for (const args of [
      ['system', 'df'],
      ['system', 'df', '--format', 'json'],
      ['system', 'df', '--format', '{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}'],
      ['system', 'df', '--format', 'table {{.Type}}\t{{.Reclaimable}}'],
      ['system', 'df', '--format', 'raw'],
      ['system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}};{{end}}'],
      [
        'system',
        'df',
        '-v',
        '--format',
        '{{range .Containers}}{{.Names}} {{.Size}} {{.LocalVolumes}};{{end}}',
      ],
      ['system', 'df', '--format', '{{.Nope}}'],
    ]) {
      await same(args);
    }
    const verbose = await bOk(['system', 'df', '-v']);
    const theirs = await dOk(['system', 'df', '-v']);
    // CREATED and STATUS may tick between the two runs (and move the columns); the rest is equal.
    const stable = (s: string): string =>
      s
        .replace(/\d+ (seconds?|minutes?) ago|Up (\d+ seconds?|Less than a second)|About a minute ago/g, 'T')
        .replace(/ +/g, ' ');
    assert.equal(stable(verbose), stable(theirs));
    assert.match(
      verbose,
      /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
    );
    assert.match(
      verbose,
      /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/,
    );
    assert.match(verbose, /^[0-9a-f]{12} +busybox +"sh -c echo data[^"]*" +1 +\d+(\.\d+)?kB .* writer$/m);
    assert.match(verbose, /\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\ndfvol +1 +5B\n/);
    assert.match(
      verbose,
      /\nBuild cache usage: 0B\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n$/,
    );
    const summary = await bOk(['system', 'df']);
    assert.match(summary, /^Containers +5 +4 +\d+(\.\d+)?kB +0B \(0%\)$/m);
    assert.match(summary, /^Local Volumes +1 +1 +5B +0B \(0%\)$/m);
  });

  it('system df counts the containers of each image, as Docker’s does', async () => {
    const images = await bOk([
      'system',
      'df',
      '-v',
      '--format',
      '{{range .Images}}{{.Repository}} {{.Containers}} {{.SharedSize}};{{end}}',
    ]);
    const users = (await dOk(['ps', '-a', '-q', '--filter', 'ancestor=busybox']))
      .trim()
      .split('\n')
      .filter(Boolean);
    assert.ok(users.length >= 4, 'srv, side, writer and idle (at least) use busybox');
    assert.match(images, new RegExp(`busybox ${users.length} 0B;`), 'every container of busybox is counted');
    assert.match(await bOk(['system', 'df']), /^Images +1 +1 /m);
  });

  it('berth system prune asks as docker does and prunes containers, networks, volumes and images', async () => {
    // A dangling image: busybox-old loaded, then its tag moved to another image.
    const first = await busyboxImage({ config: { Labels: { generation: '1' } } });
    const second = await busyboxImage({ config: { Labels: { generation: '2' } } });
    for (const [i, img] of [first, second].entries()) {
      const tarPath = join(daemon.dir, `gen${i}.tar`);
      await writeFile(tarPath, await dockerSaveTarball([{ image: img, repoTags: ['busybox-old:latest'] }]));
      await dOk(['load', '-i', tarPath]);
      await rm(tarPath, { force: true });
    }
    await dOk(['run', '--name', 'finished', 'busybox', 'true']);
    const finished = await inspectContainer(daemon, 'finished');
    await bOk(['network', 'create', 'spare']);
    const anon = (await dOk(['volume', 'create'])).trim();
    await dOk(['volume', 'create', 'named-spare']);

    const declined = await b(['system', 'prune'], 'n\n');
    assert.equal(declined.code, 0);
    assert.equal(
      declined.stdout,
      'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue? [y/N] ',
    );
    assert.equal((await inspectContainer(daemon, 'finished')).Id, finished.Id, 'declining prunes nothing');

    const withFilter = await b(['system', 'prune', '--volumes', '-a', '--filter', 'label=x'], 'n\n');
    assert.equal(
      withFilter.stdout,
      [
        'WARNING! This will remove:',
        '  - all stopped containers',
        '  - all networks not used by at least one container',
        '  - all anonymous volumes not used by at least one container',
        '  - all images without at least one container associated to them',
        '',
        '  Items to be pruned will be filtered with:',
        '  - label=x',
        '',
        'Are you sure you want to continue? [y/N] ',
      ].join('\n'),
    );
    const until = await b(['system', 'prune', '--volumes', '--filter', 'until=1h', '-f']);
    assert.equal(until.code, 1);
    assert.equal(until.stderr, 'ERROR: The "until" filter is not supported with "--volumes"\n');

    const res = await b(['system', 'prune', '-f', '--volumes']);
    assert.equal(res.code, 0, res.stderr);
    const out = res.stdout;
    assert.match(out, /^Deleted Containers:\n/);
    const sections = out.split('\n\n');
    assert.ok(sections[0]?.split('\n').includes(finished.Id), out);
    assert.match(out, /\n\nDeleted Networks:\nspare\n\n/);
    assert.match(out, new RegExp(`\\n\\nDeleted Volumes:\\n${anon}\\n\\n`));
    assert.match(out, new RegExp(`\\n\\nDeleted Images:\\n(.*\\n)*deleted: ${first.configDigest}\\n`));
    assert.match(out, /\nTotal reclaimed space: \d+(\.\d+)?[kM]?B\n$/);
    assert.ok(!out.includes('named-spare'), 'named volumes stay without -a on volume prune');
    assert.ok(!out.includes(second.configDigest), 'the tagged image stays');
    assert.equal((await dOk(['ps', '-a', '--format', '{{.Names}}', '--filter', 'status=exited'])).trim(), '');

    // -a: images without containers go too; running containers keep theirs.
    const all = await bOk(['system', 'prune', '-a', '-f']);
    assert.match(
      all,
      new RegExp(
        `Deleted Images:\\nuntagged: busybox-old:latest\\n(.*\\n)*deleted: ${second.configDigest}\\n`,
      ),
    );
    assert.match(all, /Total reclaimed space: /);
    assert.match(await dOk(['images', '--format', '{{.Repository}}']), /^busybox$/m, 'busybox is in use');
    const nothing = await bOk(['system', 'prune', '-f']);
    assert.equal(nothing, 'Total reclaimed space: 0B\n');
  });

  it('the docker CLI’s own system prune completes against berthd', async () => {
    const res = await docker(daemon.host, ['system', 'prune', '-f']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Total reclaimed space: /);
  });
});
