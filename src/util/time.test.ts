import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  formatRfc3339NanoFixed,
  formatUnixTimestamp,
  nowNano,
  parseGoDuration,
  parseUnixTimestamp,
  parseUserTimestamp,
} from './time.js';

describe('parseGoDuration', () => {
  it('parses Go durations to nanoseconds', () => {
    assert.equal(parseGoDuration('10m'), 600_000_000_000n);
    assert.equal(parseGoDuration('1h30m'), 5_400_000_000_000n);
    assert.equal(parseGoDuration('1.5s'), 1_500_000_000n);
    assert.equal(parseGoDuration('300ms'), 300_000_000n);
    assert.equal(parseGoDuration('-2s'), -2_000_000_000n);
    assert.equal(parseGoDuration('0'), 0n);
  });
  it('rejects non-durations', () => {
    for (const bad of ['', '10', 'm', '1x', '1h-2m', '2024-01-01'])
      assert.equal(parseGoDuration(bad), undefined, bad);
  });
});

describe('parseUnixTimestamp', () => {
  it('parses seconds with optional fraction', () => {
    assert.equal(parseUnixTimestamp('1540182459'), 1540182459_000000000n);
    assert.equal(parseUnixTimestamp('1540182459.729138259'), 1540182459_729138259n);
    assert.equal(parseUnixTimestamp('1540182459.5'), 1540182459_500000000n);
    assert.equal(parseUnixTimestamp('1540182459.'), 1540182459_000000000n);
    assert.equal(parseUnixTimestamp('1.1234567891234'), 1_123456789n);
  });
  it('rejects garbage', () => {
    for (const bad of ['', 'abc', '1.2.3', '10m', '1e9'])
      assert.equal(parseUnixTimestamp(bad), undefined, bad);
  });
  it('round-trips with formatUnixTimestamp', () => {
    assert.equal(formatUnixTimestamp(1540182459_000000001n), '1540182459.000000001');
    assert.equal(parseUnixTimestamp(formatUnixTimestamp(1540182459_729138259n)), 1540182459_729138259n);
  });
});

describe('parseUserTimestamp', () => {
  const now = 1_700_000_000_000_000_000n;
  it('treats durations as relative to now', () => {
    assert.equal(parseUserTimestamp('10m', now), now - 600_000_000_000n);
  });
  it('takes unix timestamps as they are', () => {
    assert.equal(parseUserTimestamp('1600000000', now), 1_600_000_000_000_000_000n);
    assert.equal(parseUserTimestamp('0', now), 0n);
  });
  it('parses RFC 3339 with zones', () => {
    assert.equal(parseUserTimestamp('2020-09-13T12:26:40Z', now), 1_600_000_000_000_000_000n);
    assert.equal(parseUserTimestamp('2020-09-13T14:26:40+02:00', now), 1_600_000_000_000_000_000n);
    assert.equal(parseUserTimestamp('2020-09-13T12:26:40.5Z', now), 1_600_000_000_500_000_000n);
  });
  it('rejects nonsense', () => {
    assert.equal(parseUserTimestamp('yesterday', now), undefined);
  });
});

describe('formatRfc3339NanoFixed', () => {
  it('prints nine fraction digits and the zone', () => {
    const s = formatRfc3339NanoFixed(1_000_000_000n);
    assert.match(s, /^1970-01-01T\d\d:00:01\.000000000(Z|[+-]\d\d:\d\d)$/);
    if (new Date(0).getTimezoneOffset() === 0) {
      assert.equal(s, '1970-01-01T00:00:01.000000000Z');
      assert.equal(formatRfc3339NanoFixed(1540182459_729138259n), '2018-10-22T04:27:39.729138259Z');
    }
  });
});

describe('nowNano', () => {
  it('is strictly increasing and close to the wall clock', () => {
    const a = nowNano();
    const b = nowNano();
    assert.ok(b > a);
    const drift = Number(a / 1_000_000n) - Date.now();
    assert.ok(Math.abs(drift) < 1000);
  });
});
