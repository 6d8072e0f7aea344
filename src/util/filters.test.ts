import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FilterArgs, labelHolds, untilCutoff } from './filters.js';

describe('FilterArgs.fromJSON', () => {
  it('reads the current map-of-bools form', () => {
    const f = FilterArgs.fromJSON('{"type":{"container":true,"image":true,"volume":false}}');
    assert.deepEqual(f.get('type').sort(), ['container', 'image']);
  });
  it('reads the legacy list form', () => {
    const f = FilterArgs.fromJSON('{"type":["container"],"event":["start","die"]}');
    assert.deepEqual(f.get('type'), ['container']);
    assert.deepEqual(f.get('event'), ['start', 'die']);
  });
  it('treats empty input as no filters', () => {
    assert.equal(FilterArgs.fromJSON('').size, 0);
    assert.equal(FilterArgs.fromJSON(undefined).size, 0);
    assert.equal(FilterArgs.fromJSON('{}').size, 0);
  });
  it('rejects malformed filters with moby message', () => {
    for (const bad of ['{', '[]', '"x"', '{"type":"container"}', '{"type":[1]}', '{"type":{"a":"yes"}}']) {
      assert.throws(
        () => FilterArgs.fromJSON(bad),
        { kind: 'invalid-parameter', message: 'invalid filter' },
        bad,
      );
    }
  });
  it('round-trips through toJSON', () => {
    const f = FilterArgs.fromPairs(['type=image', 'label=a=b', 'type=container']);
    const again = FilterArgs.fromJSON(JSON.stringify(f));
    assert.deepEqual(again.get('type'), ['image', 'container']);
    assert.deepEqual(again.get('label'), ['a=b']);
  });
});

describe('FilterArgs matching', () => {
  it('exactMatch passes everything when the name is absent', () => {
    const f = FilterArgs.fromPairs(['type=image']);
    assert.equal(f.exactMatch('event', 'pull'), true);
    assert.equal(f.exactMatch('type', 'image'), true);
    assert.equal(f.exactMatch('type', 'container'), false);
  });
  it('fuzzyMatch accepts prefixes', () => {
    const f = FilterArgs.fromPairs(['container=abc']);
    assert.equal(f.fuzzyMatch('container', 'abcdef0123'), true);
    assert.equal(f.fuzzyMatch('container', 'xabc'), false);
  });
  it('matchKVList requires every label', () => {
    const f = FilterArgs.fromPairs(['label=a', 'label=b=2']);
    assert.equal(f.matchKVList('label', { a: 'x', b: '2' }), true);
    assert.equal(f.matchKVList('label', { a: 'x', b: '3' }), false);
    assert.equal(f.matchKVList('label', { b: '2' }), false);
    assert.equal(f.matchKVList('label', {}), false);
  });
  it('validate names the unknown filter', () => {
    const f = FilterArgs.fromPairs(['bogus=1']);
    assert.throws(() => f.validate(['type']), { message: "invalid filter 'bogus'" });
  });
  it('fromPairs refuses values without a name', () => {
    assert.throws(() => FilterArgs.fromPairs(['novalue']), { kind: 'invalid-parameter' });
  });
});

describe('labelHolds and untilCutoff', () => {
  it('labelHolds takes `key` (present) and `key=value` (equal)', () => {
    const labels = { tier: 'web', empty: '' };
    assert.equal(labelHolds('tier', labels), true);
    assert.equal(labelHolds('tier=web', labels), true);
    assert.equal(labelHolds('tier=db', labels), false);
    assert.equal(labelHolds('empty=', labels), true);
    assert.equal(labelHolds('missing', labels), false);
  });

  it('untilCutoff reads Unix seconds, RFC 3339 and Go durations ago, and refuses the rest', () => {
    assert.equal(untilCutoff('1700000000'), 1_700_000_000_000);
    assert.equal(untilCutoff('1700000000.5'), 1_700_000_000_500);
    assert.equal(untilCutoff('2023-11-14T22:13:20Z'), 1_700_000_000_000);
    const before = Date.now();
    const ago = untilCutoff('1h30m');
    assert.ok(Math.abs(before - 90 * 60_000 - ago) < 1000, 'a compound Go duration, as moby takes it');
    assert.throws(() => untilCutoff('yesterday'), { message: "invalid filter 'until=yesterday'" });
  });
});
