import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { InvalidParameterError, SystemError } from '../errors.js';
import { LogRotator, parseLogOpts } from './log-rotation.js';

let root: string;
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-logrot-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshLog(): Promise<string> {
  const dir = join(root, `c${seq++}`);
  await mkdir(dir);
  return join(dir, 'ctr.log');
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

describe('LogRotator', () => {
  it('does nothing below max-size, or without a limit', async () => {
    const log = await freshLog();
    let reopened = 0;
    const reopen = (): Promise<void> => {
      reopened++;
      return Promise.resolve();
    };
    assert.equal(await new LogRotator({ logPath: log, maxSize: 10, maxFiles: 3, reopen }).check(), false);
    await writeFile(log, '123456789');
    assert.equal(await new LogRotator({ logPath: log, maxSize: 10, maxFiles: 3, reopen }).check(), false);
    await writeFile(log, '1234567890abc');
    assert.equal(await new LogRotator({ logPath: log, maxSize: -1, maxFiles: 3, reopen }).check(), false);
    assert.equal(reopened, 0);
  });

  it('keeps max-file - 1 rotated copies (max-file 3)', async () => {
    const log = await freshLog();
    const reopenedWith: boolean[] = [];
    const rotator = new LogRotator({
      logPath: log,
      maxSize: 4,
      maxFiles: 3,
      reopen: async () => {
        // conmon creates the new file on reopen; at that point the old one is already moved away.
        reopenedWith.push(await exists(log));
        await writeFile(log, '');
      },
    });
    for (const content of ['first', 'second', 'third', 'fourth']) {
      await writeFile(log, content);
      assert.equal(await rotator.check(), true);
    }
    assert.deepEqual(reopenedWith, [false, false, false, false]);
    assert.equal(await readFile(`${log}.1`, 'utf8'), 'fourth');
    assert.equal(await readFile(`${log}.2`, 'utf8'), 'third');
    assert.equal(await exists(`${log}.3`), false);
    assert.equal(await readFile(log, 'utf8'), '');
  });

  it('drops the old content with max-file 1, after the reopen', async () => {
    const log = await freshLog();
    let seenDuringReopen: string[] = [];
    const rotator = new LogRotator({
      logPath: log,
      maxSize: 4,
      maxFiles: 1,
      reopen: async () => {
        seenDuringReopen = await readdir(join(log, '..'));
        await writeFile(log, '');
      },
    });
    await writeFile(log, 'content');
    assert.equal(await rotator.check(), true);
    assert.equal(seenDuringReopen.length, 1); // the renamed file, still there for conmon's last writes
    assert.notEqual(seenDuringReopen[0], 'ctr.log');
    assert.deepEqual(await readdir(join(log, '..')), ['ctr.log']);
  });

  it('undoes the rename when the reopen fails', async () => {
    const log = await freshLog();
    const rotator = new LogRotator({
      logPath: log,
      maxSize: 4,
      maxFiles: 2,
      reopen: () => Promise.reject(new Error('ctl: no reader')),
    });
    await writeFile(log, 'content');
    await assert.rejects(rotator.check(), (err: unknown) => {
      assert.ok(err instanceof SystemError);
      assert.match(err.message, /ctl: no reader/);
      return true;
    });
    assert.equal(await readFile(log, 'utf8'), 'content');
    assert.equal(await exists(`${log}.1`), false);
  });

  it('shares one rotation between concurrent checks', async () => {
    const log = await freshLog();
    let reopened = 0;
    const rotator = new LogRotator({
      logPath: log,
      maxSize: 4,
      maxFiles: 5,
      reopen: async () => {
        reopened++;
        await writeFile(log, '');
      },
    });
    await writeFile(log, 'content');
    const results = await Promise.all([rotator.check(), rotator.check(), rotator.check()]);
    assert.deepEqual(results, [true, true, true]);
    assert.equal(reopened, 1);
    assert.equal(await exists(`${log}.2`), false);
  });
});

describe('parseLogOpts', () => {
  const fails = (opts: Record<string, string>, message: string, driver?: 'json-file' | 'local'): void => {
    assert.throws(
      () => parseLogOpts(opts, driver),
      (err: unknown) => {
        assert.ok(err instanceof InvalidParameterError, String(err));
        assert.equal(err.message, message);
        return true;
      },
    );
  };

  it('defaults like json-file', () => {
    assert.deepEqual(parseLogOpts({}), { maxSize: -1, maxFiles: 1, compress: false });
    assert.deepEqual(parseLogOpts({ tag: '{{.Name}}', labels: 'a', env: 'B' }), {
      maxSize: -1,
      maxFiles: 1,
      compress: false,
    });
  });

  it('reads go-units sizes (decimal, as FromHumanSize)', () => {
    const size = (s: string): number => parseLogOpts({ 'max-size': s }).maxSize;
    assert.equal(size('10m'), 10_000_000);
    assert.equal(size('1g'), 1_000_000_000);
    assert.equal(size('1.5k'), 1500);
    assert.equal(size('100'), 100);
    assert.equal(size('2 MB'), 2_000_000);
    assert.equal(size('2KiB'), 2000);
    assert.equal(size('7b'), 7);
    assert.equal(size('-1'), -1);
    assert.deepEqual(parseLogOpts({ 'max-size': '10m', 'max-file': '3', compress: 'true' }), {
      maxSize: 10_000_000,
      maxFiles: 3,
      compress: true,
    });
  });

  it("refuses what Docker refuses, with Docker's messages", () => {
    fails({ 'max-sizes': '1m' }, "unknown log opt 'max-sizes' for json-file log driver");
    fails({ 'max-size': 'abc' }, "invalid size: 'abc'");
    fails({ 'max-size': '10x' }, "invalid suffix: 'x'");
    fails({ 'max-size': '10mbb' }, "invalid suffix: 'mbb'");
    fails({ 'max-size': '1.2.3m' }, 'strconv.ParseFloat: parsing "1.2.3": invalid syntax');
    fails({ 'max-size': '0' }, 'max-size must be a positive number');
    fails({ 'max-size': '-5m' }, "invalid size: '-5m'");
    fails({ 'max-size': '1m', 'max-file': '0' }, 'max-file cannot be less than 1');
    fails({ 'max-size': '1m', 'max-file': 'x' }, 'strconv.Atoi: parsing "x": invalid syntax');
    fails({ 'max-size': '1m', compress: 'yes' }, 'strconv.ParseBool: parsing "yes": invalid syntax');
    fails(
      { 'max-size': '1m', compress: 'true' },
      'compress cannot be true when max-file is less than 2 or max-size is not set',
    );
    fails(
      { 'max-file': '3', compress: '1' },
      'compress cannot be true when max-file is less than 2 or max-size is not set',
    );
  });

  it('accepts max-file without max-size, where it has no effect', () => {
    assert.deepEqual(parseLogOpts({ 'max-file': '3' }), { maxSize: -1, maxFiles: 3, compress: false });
  });

  it('knows the local driver', () => {
    assert.deepEqual(parseLogOpts({}, 'local'), { maxSize: 20 * 1024 * 1024, maxFiles: 5, compress: true });
    assert.deepEqual(parseLogOpts({ 'max-file': '1', compress: 'false' }, 'local'), {
      maxSize: 20 * 1024 * 1024,
      maxFiles: 1,
      compress: false,
    });
    fails({ foo: 'x' }, "unknown log opt 'foo' for log driver local", 'local');
    fails({ 'max-file': '1' }, 'compression cannot be enabled when max file count is 1', 'local');
    fails({ 'max-size': 'big' }, "invalid value for max-size: big: invalid size: 'big'", 'local');
    fails({ 'max-file': '-1', compress: 'false' }, 'max-file must not be negative', 'local');
  });
});
