import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';

import {
  JsonMessageError,
  JsonMessageRenderer,
  decodeJsonMessages,
  displayJsonMessages,
  goDurationSeconds,
  renderProgress,
  type JsonMessage,
} from './progress.js';

const DIGEST = 'sha256:' + 'b'.repeat(64);

/** A pull as the daemon streams it (recorded shape of moby's messages). */
const PULL: readonly JsonMessage[] = [
  { status: 'Pulling from library/alpine', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaaaaaaaaaaa' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'bbbbbbbbbbbb' },
  { status: 'Waiting', progressDetail: {}, id: 'bbbbbbbbbbbb' },
  {
    status: 'Downloading',
    progressDetail: { current: 1000, total: 3408000 },
    progress: '[>      ]      1kB/3.408MB',
    id: 'aaaaaaaaaaaa',
  },
  { status: 'Downloading', progressDetail: { current: 1704000, total: 3408000 }, id: 'aaaaaaaaaaaa' },
  { status: 'Verifying Checksum', progressDetail: {}, id: 'aaaaaaaaaaaa' },
  { status: 'Download complete', progressDetail: {}, id: 'aaaaaaaaaaaa' },
  { status: 'Extracting', progressDetail: { current: 32768, total: 3408000 }, id: 'aaaaaaaaaaaa' },
  { status: 'Pull complete', progressDetail: {}, id: 'aaaaaaaaaaaa' },
  { status: 'Already exists', progressDetail: {}, id: 'bbbbbbbbbbbb' },
  { status: `Digest: ${DIGEST}` },
  { status: 'Status: Downloaded newer image for alpine:latest' },
];

function collector(): { write(s: string): boolean; text: string } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

function wire(messages: readonly JsonMessage[], sep = '\r\n'): Readable {
  return Readable.from(messages.map((m) => Buffer.from(JSON.stringify(m) + sep)));
}

describe('progress: the bar (RenderTUIProgress)', () => {
  it('draws a 50-column bar and human sizes', () => {
    assert.equal(
      renderProgress({ current: 1234567, total: 3456789 }, 200),
      '[=================>                                 ]  1.235MB/3.457MB',
    );
    assert.equal(
      renderProgress({ current: 3408000, total: 3408000 }, 200),
      '[==================================================>]  3.408MB/3.408MB',
    );
    assert.equal(
      renderProgress({ current: 0, total: 2048 }, 200),
      '[>                                                  ]       0B/2.048kB',
    );
    assert.equal(
      renderProgress({ current: 512, total: 2048 }, 200),
      '[============>                                      ]     512B/2.048kB',
    );
  });

  it('leaves the bar out on narrow terminals (≤ 110 columns)', () => {
    assert.equal(renderProgress({ current: 1234567, total: 3456789 }, 110), ' 1.235MB/3.457MB');
  });

  it('prints only the current size without a total, or a wonky current', () => {
    assert.equal(renderProgress({ current: 1500 }, 200), ' 1.5kB'.padStart(8));
    assert.equal(
      renderProgress({ current: 5000, total: 10 }, 200),
      '[==================================================>]      5kB',
    );
    assert.equal(renderProgress({}, 200), '');
  });

  it('uses explicit units and hides counts on request', () => {
    assert.equal(renderProgress({ current: 3, total: 10, units: 'layers' }, 80), '3/10 layers');
    assert.equal(renderProgress({ current: 3, units: 'layers' }, 80), '3 layers');
    assert.equal(
      renderProgress({ current: 5, total: 10, hidecounts: true }, 200),
      '[=========================>                         ] ',
    );
  });

  it('estimates the time left from the start time', () => {
    const start = 1_700_000_000;
    const now = (start + 10) * 1000;
    assert.equal(
      renderProgress({ current: 1000, total: 4000, start }, 200, now),
      '[============>                                      ]      1kB/4kB 30s',
    );
    assert.equal(goDurationSeconds(3723), '1h2m3s');
    assert.equal(goDurationSeconds(65), '1m5s');
    assert.equal(goDurationSeconds(0), '0s');
  });
});

describe('progress: plain output (not a terminal)', () => {
  it('prints each status change once, without bars', async () => {
    const out = collector();
    const result = await displayJsonMessages(wire(PULL), out, { isTerminal: false });
    assert.equal(
      out.text,
      [
        'latest: Pulling from library/alpine',
        'aaaaaaaaaaaa: Pulling fs layer',
        'bbbbbbbbbbbb: Pulling fs layer',
        'bbbbbbbbbbbb: Waiting',
        'aaaaaaaaaaaa: Verifying Checksum',
        'aaaaaaaaaaaa: Download complete',
        'aaaaaaaaaaaa: Pull complete',
        'bbbbbbbbbbbb: Already exists',
        `Digest: ${DIGEST}`,
        'Status: Downloaded newer image for alpine:latest',
        '',
      ].join('\n'),
    );
    assert.deepEqual(result.statuses, [
      `Digest: ${DIGEST}`,
      'Status: Downloaded newer image for alpine:latest',
    ]);
    assert.equal(result.digest, DIGEST);
    assert.deepEqual(result.aux, []);
  });

  it('prints `stream` texts as they are (load)', async () => {
    const out = collector();
    const result = await displayJsonMessages(
      wire([{ stream: 'Loaded image: alpine:latest\n' }, { stream: 'Loaded image ID: sha256:1\n' }], '\n'),
      out,
      { isTerminal: false },
    );
    assert.equal(out.text, 'Loaded image: alpine:latest\nLoaded image ID: sha256:1\n');
    assert.deepEqual(result.streams, ['Loaded image: alpine:latest\n', 'Loaded image ID: sha256:1\n']);
  });

  it('hands aux payloads to the caller instead of printing them (push)', async () => {
    const out = collector();
    const seen: unknown[] = [];
    const aux = { Tag: '1.0', Digest: DIGEST, Size: 528 };
    const result = await displayJsonMessages(
      wire([
        { status: 'Pushed', progressDetail: {}, id: 'aaaaaaaaaaaa' },
        { status: `1.0: digest: ${DIGEST} size: 528` },
        { progressDetail: {}, aux },
      ]),
      out,
      { isTerminal: false, onAux: (a) => seen.push(a) },
    );
    assert.equal(out.text, `aaaaaaaaaaaa: Pushed\n1.0: digest: ${DIGEST} size: 528\n`);
    assert.deepEqual(result.aux, [aux]);
    assert.deepEqual(seen, [aux]);
  });

  it('turns an error message into a JsonMessageError with the daemon message', async () => {
    const out = collector();
    await assert.rejects(
      displayJsonMessages(
        wire([
          { status: 'Pulling fs layer', progressDetail: {}, id: 'aaaaaaaaaaaa' },
          { errorDetail: { message: 'unexpected EOF' }, error: 'unexpected EOF' },
        ]),
        out,
        { isTerminal: false },
      ),
      (err: unknown) =>
        err instanceof JsonMessageError && err.message === 'unexpected EOF' && err.exitCode === 1,
    );
    assert.equal(out.text, 'aaaaaaaaaaaa: Pulling fs layer\n');
    await assert.rejects(
      displayJsonMessages(wire([{ error: 'legacy failure' }]), out, { isTerminal: false }),
      {
        message: 'legacy failure',
      },
    );
  });
});

describe('progress: terminal output', () => {
  it('gives each layer a line and rewrites it in place', () => {
    const out = collector();
    const r = new JsonMessageRenderer(out, { isTerminal: true, width: 200 });
    r.handle({ status: 'The push refers to repository [localhost:5000/app]' });
    r.handle({ status: 'Preparing', progressDetail: {}, id: 'aaaaaaaaaaaa' });
    r.handle({ status: 'Preparing', progressDetail: {}, id: 'bbbbbbbbbbbb' });
    r.handle({ status: 'Pushing', progressDetail: { current: 512, total: 2048 }, id: 'aaaaaaaaaaaa' });
    r.handle({ status: 'Pushed', progressDetail: {}, id: 'aaaaaaaaaaaa' });
    r.handle({ status: 'done' });
    assert.equal(
      out.text,
      'The push refers to repository [localhost:5000/app]\n' +
        '\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Preparing \r\x1b[1B' +
        '\n\x1b[1A\x1b[2K\rbbbbbbbbbbbb: Preparing \r\x1b[1B' +
        '\x1b[2A\x1b[2K\raaaaaaaaaaaa: Pushing [============>                                      ]     512B/2.048kB\r\x1b[2B' +
        '\x1b[2A\x1b[2K\raaaaaaaaaaaa: Pushed \r\x1b[2B' +
        'done\n',
    );
  });

  it('drops the bar on a narrow terminal', () => {
    const out = collector();
    const r = new JsonMessageRenderer(out, { isTerminal: true, width: 80 });
    r.handle({
      status: 'Downloading',
      progressDetail: { current: 1000, total: 3408000 },
      id: 'aaaaaaaaaaaa',
    });
    assert.equal(out.text, '\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Downloading      1kB/3.408MB\r\x1b[1B');
  });
});

describe('progress: decoding', () => {
  it('reads concatenated JSON objects split across chunks', async () => {
    const text = '{"status":"a"}{"status":"b}{"}\n\n{"id":"x",\n"status":"c"}';
    const chunks = [text.slice(0, 5), text.slice(5, 17), text.slice(17, 30), text.slice(30)];
    const got: JsonMessage[] = [];
    for await (const m of decodeJsonMessages(Readable.from(chunks))) got.push(m);
    assert.deepEqual(got, [{ status: 'a' }, { status: 'b}{' }, { id: 'x', status: 'c' }]);
  });

  it('fails on a truncated stream', async () => {
    await assert.rejects(async () => {
      for await (const _ of decodeJsonMessages(Readable.from(['{"status":'])));
    });
  });
});
