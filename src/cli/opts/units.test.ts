import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { getTimestamp, parseGoDuration, parseGoDurationNs } from './duration.js';
import {
  goParseFloat,
  memSwapBytes,
  parseCpus,
  parseGoBool,
  parseInt64,
  parseUint16,
  ramInBytes,
} from './units.js';

describe('flag values: sizes, CPUs, integers', () => {
  it('reads sizes as go-units RAMInBytes', () => {
    assert.equal(ramInBytes('512'), 512);
    assert.equal(ramInBytes('512b'), 512);
    assert.equal(ramInBytes('1k'), 1024);
    assert.equal(ramInBytes('1.5k'), 1536);
    assert.equal(ramInBytes('64m'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('64M'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('1g'), 1024 ** 3);
    assert.equal(ramInBytes('1GB'), 1024 ** 3);
    assert.equal(ramInBytes('1GiB'), 1024 ** 3);
    assert.equal(ramInBytes('2 t'), 2 * 1024 ** 4);
    assert.equal(memSwapBytes('-1'), -1);
  });

  it('refuses bad sizes with go-units messages', () => {
    assert.throws(() => ramInBytes('abc'), { message: "invalid size: 'abc'" });
    assert.throws(() => ramInBytes(''), { message: "invalid size: ''" });
    assert.throws(() => ramInBytes('1x'), { message: "invalid suffix: 'x'" });
    assert.throws(() => ramInBytes('1kx'), { message: "invalid suffix: 'kx'" });
    assert.throws(() => ramInBytes('1bb'), { message: "invalid suffix: 'bb'" });
    assert.throws(() => ramInBytes('1kibx'), { message: "invalid suffix: 'kibx'" });
    assert.throws(() => ramInBytes('-1'), { message: "invalid size: '-1'" });
    assert.throws(() => ramInBytes('1.2.3m'), {
      message: 'strconv.ParseFloat: parsing "1.2.3": invalid syntax',
    });
  });

  it('reads --cpus as NanoCpus', () => {
    assert.equal(parseCpus('1'), 1_000_000_000);
    assert.equal(parseCpus('1.5'), 1_500_000_000);
    assert.equal(parseCpus('0.25'), 250_000_000);
    assert.equal(parseCpus('.5'), 500_000_000);
    assert.equal(parseCpus('3/2'), 1_500_000_000);
    assert.equal(parseCpus('1e-3'), 1_000_000);
    assert.throws(() => parseCpus('abc'), { message: 'failed to parse abc as a rational number' });
    assert.throws(() => parseCpus('0.0000000001'), { message: 'value is too precise' });
  });

  it('reads integers and booleans as Go does', () => {
    assert.equal(parseInt64('42'), 42);
    assert.equal(parseInt64('-1'), -1);
    assert.equal(parseInt64('0x10'), 16);
    assert.equal(parseInt64('010'), 8);
    assert.throws(() => parseInt64('4x'), { message: 'strconv.ParseInt: parsing "4x": invalid syntax' });
    assert.equal(parseUint16('500'), 500);
    assert.throws(() => parseUint16('70000'), {
      message: 'strconv.ParseUint: parsing "70000": value out of range',
    });
    assert.throws(() => parseUint16('-1'), { message: 'strconv.ParseUint: parsing "-1": invalid syntax' });
    assert.equal(goParseFloat('1e3'), 1000);
    assert.equal(parseGoBool('True'), true);
    assert.equal(parseGoBool('0'), false);
    assert.equal(parseGoBool('yes'), undefined);
  });
});

describe('durations and timestamps', () => {
  it('parses Go durations', () => {
    assert.equal(parseGoDuration('30s'), 30e9);
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('250ms'), 250e6);
    assert.equal(parseGoDuration('1h2m3s4ms5us6ns'), 3723004005006);
    assert.equal(parseGoDuration('2\u00b5s'), 2000);
    assert.equal(parseGoDuration('-5s'), -5e9);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('.5s'), 5e8);
    assert.equal(parseGoDurationNs('2562047h'), 9223369200000000000n);
  });

  it('refuses what Go refuses, with its messages', () => {
    assert.throws(() => parseGoDuration(''), { message: 'time: invalid duration ""' });
    assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
    assert.throws(() => parseGoDuration('10'), { message: 'time: missing unit in duration "10"' });
    assert.throws(() => parseGoDuration('10x'), { message: 'time: unknown unit "x" in duration "10x"' });
    assert.throws(() => parseGoDuration('1s2'), { message: 'time: missing unit in duration "1s2"' });
    assert.throws(() => parseGoDuration('.s'), { message: 'time: invalid duration ".s"' });
  });

  it('turns --since values into Unix timestamps as the docker client does', () => {
    const now = Date.UTC(2024, 0, 2, 15, 4, 5, 500);
    assert.equal(getTimestamp('10m', now), String(Math.floor(now / 1000) - 600));
    assert.equal(getTimestamp('1m30s', now), String(Math.floor(now / 1000) - 90));
    assert.equal(getTimestamp('2024-01-02T15:04:05Z', now), '1704207845.000000000');
    assert.equal(getTimestamp('2024-01-02T15:04:05.123Z', now), '1704207845.123000000');
    assert.equal(getTimestamp('2024-01-02T15:04:05+01:00', now), '1704204245.000000000');
    assert.equal(getTimestamp('1704207845', now), '1704207845');
    assert.equal(getTimestamp('1704207845.5', now), '1704207845.5');
    assert.throws(() => getTimestamp('yesterday', now), {
      message: 'failed to parse value as time or duration: "yesterday"',
    });
  });
});
