/**
 * The layer store: image layers unpacked once, in overlayfs lowerdir form,
 * keyed by chain ID and shared by every image that contains them. Modelled
 * on moby's overlay2 graphdriver, including its short `l/` symlinks.
 *
 * On-disk layout under `<root>`:
 *
 * ```
 * <root>/
 *   layers/
 *     <chain id hex>/
 *       diff/              the layer's files; whiteouts are 0/0 char devices,
 *                          opaque dirs carry trusted.overlay.opaque=y
 *       tar-split.gz       the layer tar minus its files' contents, to rebuild
 *                          the exact tar from diff/ (tar-split.ts)
 *       stash/<n>          files the split refers to that the tar replaced
 *       meta.json          {chainId, diffId, parent, size, createdAt, link};
 *                          written (atomically) last: a layer dir without it
 *                          is half-written and removed by open()
 *     tmp-<random>/        a registration in progress, or a layer being
 *       diff/              removed (renamed here first); removed by open()
 *   l/
 *     <26 chars>  ->  ../layers/<chain id hex>/diff
 * ```
 *
 * The `l/` names keep overlay mount options short: the kernel takes at most
 * one page (4096 bytes) of options, which 60 absolute lowerdir paths exceed.
 * Mounting with `cwd = <root>` and `lowerdir=l/AAA:l/BBB` allows
 * {@link MAX_LAYER_DEPTH} layers (moby's overlay2 arithmetic).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.js';
import { fsyncDir, isErrno, readJsonFile, writeFileAtomic } from './atomic.js';
import { OffThreadDigest, childChainId, parseDigestString } from './digest.js';
import { extractLayer, type SpecialFileOps } from './tar-extract.js';
import { exportLayer } from './tar-export.js';
import {
  RACY_MS,
  TarSplitRecorder,
  assembleTar,
  decodeTarSplit,
  filesUnchangedSince,
  tarSplitSize,
} from './tar-split.js';

const execFileAsync = promisify(execFile);

/**
 * Deepest layer chain, as moby's overlay2: 128 short links take 128 * 29 - 1
 * = 3711 bytes of `lowerdir=`, leaving ~380 bytes of the 4096-byte options
 * page for the rest (upperdir/workdir should be short or relative too).
 */
export const MAX_LAYER_DEPTH = 128;
const LINK_LENGTH = 26;
const LINK_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX_RE = /^[0-9a-f]{64}$/;
const LINK_RE = /^[A-Z2-7]{26}$/;
/** Beside `diff/`: the layer's tar-split, and files it refers to that the tar itself replaced. */
const TAR_SPLIT_FILE = 'tar-split.gz';
const STASH_DIR = 'stash';

/** A layer extracted into the store but not yet placed in a chain (see {@link LayerStore.stage}). */
export class StagedLayer {
  /** @internal */ readonly tmp: string;
  readonly diffId: string;
  /** Byte length of the layer tar. */
  readonly tarSize: number;
  /** Total size of its regular files. */
  readonly size: number;
  /** @internal chain ID it was placed as */ placedAs: string | undefined;
  /** @internal */ discarded = false;
  /** @internal resolves once its files are on disk (rejects if syncing failed) */
  durable: Promise<void> = Promise.resolve();
  /** @internal its tar-split, written (sealed) in the background once RACY_MS have passed */
  readonly split: TarSplitRecorder;
  /** @internal resolves once the tar-split is written (rejects if writing it failed) */
  sealed: Promise<void> = Promise.resolve();

  constructor(tmp: string, diffId: string, tarSize: number, size: number, split: TarSplitRecorder) {
    this.tmp = tmp;
    this.diffId = diffId;
    this.tarSize = tarSize;
    this.size = size;
    this.split = split;
  }
}

/** What the store records about a layer (meta.json). */
export interface LayerInfo {
  readonly chainId: string;
  /** sha256 of the uncompressed layer tar. */
  readonly diffId: string;
  /** Chain ID of the layer below; undefined for a base layer. */
  readonly parent: string | undefined;
  /** Total size of the layer's regular files, in bytes. */
  readonly size: number;
  /** ISO 8601. */
  readonly createdAt: string;
  /** Name of this layer's short symlink under `<root>/l/`. */
  readonly link: string;
}

/** Arguments for mounting a chain with short lowerdir paths: run mount with `cwd`. */
export interface LowerSpec {
  readonly cwd: string;
  /** `l/<top>:l/<next>:…:l/<base>`, topmost first. */
  readonly lowerdir: string;
}

export interface LayerStoreOptions {
  /** syncfs the new layer's files before meta.json makes it valid. Default true. */
  sync?: boolean;
  /** Shared helper for mknod/xattrs (one process for many layers). */
  ops?: SpecialFileOps;
}

interface MetaFile {
  chainId: string;
  diffId: string;
  parent: string | null;
  size: number;
  createdAt: string;
  link: string;
}

function newLinkName(): string {
  let s = '';
  for (let i = 0; i < LINK_LENGTH; i++) s += LINK_ALPHABET[randomInt(LINK_ALPHABET.length)];
  return s;
}

function hexOf(chainId: string): string {
  return parseDigestString(chainId).hex;
}

function notFound(chainId: string): NotFoundError {
  return new NotFoundError(`layer ${chainId} not found`);
}

function fromMeta(m: MetaFile): LayerInfo {
  return {
    chainId: m.chainId,
    diffId: m.diffId,
    parent: m.parent ?? undefined,
    size: m.size,
    createdAt: m.createdAt,
    link: m.link,
  };
}

function validMeta(m: MetaFile | undefined, hex: string): m is MetaFile {
  return (
    m !== undefined &&
    m.chainId === `sha256:${hex}` &&
    typeof m.diffId === 'string' &&
    HEX_RE.test(m.diffId.replace(/^sha256:/, '')) &&
    (m.parent === null || (typeof m.parent === 'string' && HEX_RE.test(m.parent.replace(/^sha256:/, '')))) &&
    typeof m.size === 'number' &&
    typeof m.link === 'string' &&
    LINK_RE.test(m.link)
  );
}

/**
 * Removes a tree even if something in it carries the immutable or
 * append-only attribute (clears those with chattr and retries).
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    // Immutable files make rm fail with EPERM (or ENOTDIR, as Node's rm retries unlink as rmdir).
    await execFileAsync('chattr', ['-R', '-f', '-i', '-a', '--', path]).catch(() => undefined);
    await rm(path, { recursive: true, force: true });
  }
}

async function drain(input: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of input) {
    // discard
  }
}

/**
 * Read-only image layers.
 *
 * Lifecycle of a layer:
 * 1. `register(tar, parent, expectedDiffId?)` streams an uncompressed layer
 *    tar into a temp dir while computing its diff ID, then moves it to its
 *    chain-ID dir and writes meta.json last. If the chain ID is already
 *    present the new copy is discarded and the existing layer returned (when
 *    `expectedDiffId` is given and present, the tar is not even extracted).
 *    A diff ID mismatch fails and leaves nothing behind. The parent must be
 *    registered.
 *    Or in two steps: `stage(tar)` extracts it unplaced (its files do not
 *    depend on the parent), `commitStaged(staged, parent)` places it.
 * 2. `get`/`list`/`lowerDirs`/`mountLowerSpec`/`diffDir`/`diffTar`/
 *    `tarStream` while it exists; its files must not be modified.
 * 3. `remove(chainId)` (refused while another layer builds on it) or
 *    `garbageCollect(keep)`.
 *
 * `LayerStore.open` recovers from a crash at any point of 1 or 3:
 * temp dirs, layer dirs without meta.json and dangling `l/` links go.
 *
 * One instance per root per process.
 */
export class LayerStore {
  readonly root: string;
  private readonly layersDir: string;
  private readonly linkDir: string;
  private readonly sync: boolean;
  private readonly ops: SpecialFileOps | undefined;
  private readonly layers = new Map<string, LayerInfo>();
  /** Layers staged with `deferSync` whose syncfs has not started yet. */
  private readonly unsynced = new Set<StagedLayer>();
  /** Registrations in flight by expected chain ID, so concurrent pulls of one layer extract it once. */
  private readonly inflight = new Map<string, Promise<LayerInfo>>();
  /** Serialises changes to the set of layers (commit, remove, gc). */
  private serial: Promise<unknown> = Promise.resolve();

  private constructor(root: string, options: LayerStoreOptions | undefined) {
    this.root = root;
    this.layersDir = join(root, 'layers');
    this.linkDir = join(root, 'l');
    this.sync = options?.sync ?? true;
    this.ops = options?.ops;
  }

  /** Creates the layout if needed, recovers from interrupted operations and loads the layers. */
  static async open(root: string, options?: LayerStoreOptions): Promise<LayerStore> {
    const store = new LayerStore(root, options);
    await store.recover();
    return store;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async for callers and future backends
  async get(chainId: string): Promise<LayerInfo | undefined> {
    return this.layers.get(chainId);
  }

  /** All layers, sorted by chain ID. */
  // eslint-disable-next-line @typescript-eslint/require-await
  async list(): Promise<LayerInfo[]> {
    return [...this.layers.values()].sort((a, b) => (a.chainId < b.chainId ? -1 : 1));
  }

  /** Absolute path of the layer's diff directory. */
  diffDir(chainId: string): string {
    if (!this.layers.has(chainId)) throw notFound(chainId);
    return join(this.layersDir, hexOf(chainId), 'diff');
  }

  /** Total size of the layer's regular files. */
  // eslint-disable-next-line @typescript-eslint/require-await
  async diffSize(chainId: string): Promise<number> {
    const info = this.layers.get(chainId);
    if (info === undefined) throw notFound(chainId);
    return info.size;
  }

  /** Absolute diff dirs of the chain, topmost first. NotFoundError for an unknown layer. */
  lowerDirs(chainId: string): string[] {
    return this.chain(chainId).map((l) => join(this.layersDir, hexOf(l.chainId), 'diff'));
  }

  /** `lowerdir` for the chain through the short `l/` links, to mount with `cwd`. */
  mountLowerSpec(chainId: string): LowerSpec {
    return {
      cwd: this.root,
      lowerdir: this.chain(chainId)
        .map((l) => `l/${l.link}`)
        .join(':'),
    };
  }

  /** The layer as a tar (whiteouts in AUFS form), for save and push. */
  diffTar(chainId: string): Readable {
    const dir = this.diffDir(chainId);
    return exportLayer(dir, this.ops === undefined ? undefined : { ops: this.ops });
  }

  /**
   * Unpacks an uncompressed layer tar on top of `parentChainId` (undefined
   * for a base layer). See the lifecycle above.
   */
  async register(
    tar: Readable,
    parentChainId: string | undefined,
    expectedDiffId?: string,
  ): Promise<LayerInfo> {
    this.checkParent(parentChainId);
    if (expectedDiffId === undefined) return this.extractAndCommit(tar, parentChainId, undefined);
    const expectedChain = childChainId(parentChainId, expectedDiffId);
    for (;;) {
      const existing = this.layers.get(expectedChain);
      if (existing !== undefined) {
        await drain(tar);
        return existing;
      }
      const running = this.inflight.get(expectedChain);
      if (running === undefined) break;
      await running.catch(() => undefined);
    }
    const p = this.extractAndCommit(tar, parentChainId, expectedDiffId);
    this.inflight.set(expectedChain, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(expectedChain);
    }
  }

  /** Removes one layer; ConflictError while another layer has it as parent. */
  async remove(chainId: string): Promise<void> {
    await this.exclusive(async () => {
      const info = this.layers.get(chainId);
      if (info === undefined) throw notFound(chainId);
      const child = [...this.layers.values()].find((l) => l.parent === chainId);
      if (child !== undefined) {
        throw new ConflictError(`layer ${chainId} is in use: it is the parent of layer ${child.chainId}`);
      }
      await this.removeLayer(info);
    });
  }

  /**
   * Removes every layer that is neither in `keep` nor below one that is;
   * returns the removed layers, children before parents.
   */
  async garbageCollect(keep: ReadonlySet<string>): Promise<LayerInfo[]> {
    return this.exclusive(async () => {
      const reachable = new Set<string>();
      for (const id of keep) {
        for (let cur = this.layers.get(id); cur !== undefined && !reachable.has(cur.chainId);) {
          reachable.add(cur.chainId);
          cur = cur.parent === undefined ? undefined : this.layers.get(cur.parent);
        }
      }
      // Every child of an unreachable layer is unreachable too, so deepest-first is children-first.
      const doomed = [...this.layers.values()]
        .filter((l) => !reachable.has(l.chainId))
        .map((l) => ({ l, depth: this.depth(l) }))
        .sort((a, b) => b.depth - a.depth || (a.l.chainId < b.l.chainId ? -1 : 1));
      const removed: LayerInfo[] = [];
      for (const { l } of doomed) {
        await this.removeLayer(l);
        removed.push(l);
      }
      return removed;
    });
  }

  /**
   * Extracts an uncompressed layer tar into a temp dir of the store, with
   * its tar-split and diff ID, without placing it in any chain yet (a
   * layer's files do not depend on its parent). {@link commitStaged} puts it
   * in place; {@link discardStaged} drops it; a crash leaves a `tmp-` dir
   * that `open` removes.
   */
  async stage(
    tar: Readable | AsyncIterable<unknown>,
    expectedDiffId?: string,
    options: { deferSync?: boolean } = {},
  ): Promise<StagedLayer> {
    if (expectedDiffId !== undefined) parseDigestString(expectedDiffId);
    const tmp = join(this.layersDir, `tmp-${randomBytes(8).toString('hex')}`);
    // Hashed on a worker thread while this one parses and writes.
    const counter = new OffThreadDigest();
    try {
      await mkdir(join(tmp, 'diff'), { recursive: true, mode: 0o700 });
      await chmod(join(tmp, 'diff'), 0o755);
      async function* digesting(): AsyncGenerator<Uint8Array> {
        for await (const chunk of tar) {
          const buf = chunk as Buffer;
          counter.update(buf);
          yield buf;
        }
      }
      const split = new TarSplitRecorder(join(tmp, 'diff'), join(tmp, STASH_DIR));
      const { size } = await extractLayer(digesting(), join(tmp, 'diff'), {
        ...(this.ops === undefined ? {} : { ops: this.ops }),
        tarSplit: split,
        syncFiles: this.sync, // the bulk is flushed while extracting; the syncfs below finishes
      });
      const { digest: diffId, size: tarSize } = await counter.digest();
      if (expectedDiffId !== undefined && diffId !== expectedDiffId) {
        throw new InvalidParameterError(`layer diff ID mismatch: got ${diffId}, expected ${expectedDiffId}`);
      }
      const staged = new StagedLayer(tmp, diffId, tarSize, size, split);
      // Sealed while the caller goes on (the rest of an archive, its manifest); awaited when placed.
      staged.sealed = this.sealStaged(staged);
      staged.sealed.catch(() => undefined);
      if (this.sync && options.deferSync === true) this.unsynced.add(staged);
      else if (this.sync) await execFileAsync('sync', ['-f', tmp]);
      return staged;
    } catch (err) {
      counter.abandon();
      await removeTree(tmp);
      throw err;
    }
  }

  /**
   * Places a staged layer on top of `parent`. If that chain ID exists
   * already the staged copy is dropped. A staged layer placed once and asked
   * for again on another parent is copied from the first place.
   */
  async commitStaged(staged: StagedLayer, parent: string | undefined): Promise<LayerInfo> {
    this.checkParent(parent);
    const chainId = childChainId(parent, staged.diffId);
    const existing = this.layers.get(chainId);
    if (existing !== undefined) {
      await this.discardStaged(staged);
      return existing;
    }
    if (staged.placedAs !== undefined) {
      const source = await this.tarStream(staged.placedAs);
      if (source === undefined) throw notFound(staged.placedAs);
      return this.register(source.stream, parent, staged.diffId);
    }
    if (staged.discarded) throw new InvalidParameterError(`staged layer ${staged.diffId} was discarded`);
    if (this.unsynced.has(staged)) this.flushStaged();
    await staged.sealed; // fsync'ed itself
    await staged.durable;
    try {
      const info = await this.exclusive(() =>
        this.commit(staged.tmp, chainId, staged.diffId, parent, staged.size),
      );
      staged.placedAs = info.chainId;
      return info;
    } finally {
      // Gone when it was renamed into place; left when the chain appeared meanwhile or commit failed.
      await removeTree(staged.tmp);
    }
  }

  /**
   * Writes the staged layer's tar-split (fsync'ed), sealed at least
   * RACY_MS after extraction ended (see tar-split.ts). `stage` starts it as
   * soon as extraction ends, so by the time an archive's layers are placed
   * only the last one may still be waiting.
   */
  private async sealStaged(staged: StagedLayer): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, RACY_MS + 1));
    await writeFileAtomic(join(staged.tmp, TAR_SPLIT_FILE), staged.split.encode(Date.now()), 0o600);
  }

  /**
   * Starts one syncfs for every layer staged with `deferSync` so far (an
   * archive's layers share it; their large files were flushed while
   * extracting). `commitStaged` starts it if nobody did; a reader that has
   * staged all of an archive's layers starts it early, to overlap the rest.
   */
  flushStaged(): void {
    if (this.unsynced.size === 0) return;
    const batch = [...this.unsynced];
    this.unsynced.clear();
    const syncing = execFileAsync('sync', ['-f', this.layersDir]).then(() => undefined);
    syncing.catch(() => undefined); // awaited through each layer's `durable`
    for (const staged of batch) staged.durable = syncing;
  }

  /** Drops a staged layer that was not (or no longer needs to be) placed. */
  async discardStaged(staged: StagedLayer): Promise<void> {
    if (staged.discarded || staged.placedAs !== undefined) return;
    staged.discarded = true;
    this.unsynced.delete(staged);
    await staged.sealed.catch(() => undefined); // not writing into the dir as it goes
    await removeTree(staged.tmp);
  }

  /**
   * The layer's original tar, rebuilt byte for byte from its files and
   * tar-split, with its length. Verified against the diff ID as it streams
   * unless no file has changed since extraction hashed it (tar-split.ts);
   * undefined for a layer stored without a tar-split (before berth kept them).
   */
  async tarStream(
    chainId: string,
  ): Promise<{ stream: Readable; size: number; verifying: boolean } | undefined> {
    const info = this.layers.get(chainId);
    if (info === undefined) throw notFound(chainId);
    const dir = join(this.layersDir, hexOf(chainId));
    let encoded: Buffer;
    try {
      encoded = await readFile(join(dir, TAR_SPLIT_FILE));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    const { segments, sealedAt } = decodeTarSplit(encoded);
    const diffDir = join(dir, 'diff');
    const stashDir = join(dir, STASH_DIR);
    // Hashed again only if a file may have changed since extraction hashed it.
    const untouched = sealedAt !== undefined && filesUnchangedSince(segments, diffDir, stashDir, sealedAt);
    return {
      stream: Readable.from(assembleTar(segments, diffDir, stashDir, untouched ? undefined : info.diffId), {
        // Buffers as they are (a byte-mode Readable concatenates what it holds on each read),
        // a few read ahead while the consumer sends.
        objectMode: true,
        highWaterMark: 4,
      }),
      size: tarSplitSize(segments),
      verifying: !untouched,
    };
  }

  /** True when the layer's exact tar can be rebuilt ({@link tarStream}). */
  hasTarSplit(chainId: string): boolean {
    return this.layers.has(chainId) && existsSync(join(this.layersDir, hexOf(chainId), TAR_SPLIT_FILE));
  }

  private checkParent(parentChainId: string | undefined): void {
    if (parentChainId === undefined) return;
    parseDigestString(parentChainId);
    if (!this.layers.has(parentChainId)) throw new NotFoundError(`parent layer ${parentChainId} not found`);
    if (this.chain(parentChainId).length >= MAX_LAYER_DEPTH) {
      throw new InvalidParameterError(`layer chain deeper than ${MAX_LAYER_DEPTH} layers`);
    }
  }

  private async extractAndCommit(
    tar: Readable,
    parent: string | undefined,
    expectedDiffId: string | undefined,
  ): Promise<LayerInfo> {
    return this.commitStaged(await this.stage(tar, expectedDiffId), parent);
  }

  /** Moves the extracted temp dir into place; runs exclusively. */
  private async commit(
    tmp: string,
    chainId: string,
    diffId: string,
    parent: string | undefined,
    size: number,
  ): Promise<LayerInfo> {
    const existing = this.layers.get(chainId);
    if (existing !== undefined) return existing;
    if (parent !== undefined && !this.layers.has(parent)) throw notFound(parent);
    const dir = join(this.layersDir, hexOf(chainId));
    await removeTree(dir); // a half-written leftover of a failed commit
    await rename(tmp, dir);
    let linkName: string | undefined;
    try {
      await fsyncDir(this.layersDir);
      linkName = await this.createLink(hexOf(chainId));
      const meta: MetaFile = {
        chainId,
        diffId,
        parent: parent ?? null,
        size,
        createdAt: new Date().toISOString(),
        link: linkName,
      };
      await writeFileAtomic(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', 0o600);
      const info = fromMeta(meta);
      this.layers.set(chainId, info);
      return info;
    } catch (err) {
      if (linkName !== undefined) await unlink(join(this.linkDir, linkName)).catch(() => undefined);
      await removeTree(dir);
      throw err;
    }
  }

  private async createLink(hex: string, name?: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const candidate = name ?? newLinkName();
      try {
        await symlink(`../layers/${hex}/diff`, join(this.linkDir, candidate));
        await fsyncDir(this.linkDir);
        return candidate;
      } catch (err) {
        if (!isErrno(err, 'EEXIST') || name !== undefined || attempt > 8) throw err;
      }
    }
  }

  /** Makes the layer disappear atomically (rename), then cleans up. Runs exclusively. */
  private async removeLayer(info: LayerInfo): Promise<void> {
    const dir = join(this.layersDir, hexOf(info.chainId));
    const tmp = join(this.layersDir, `tmp-${randomBytes(8).toString('hex')}`);
    await rename(dir, tmp);
    await fsyncDir(this.layersDir);
    this.layers.delete(info.chainId);
    await unlink(join(this.linkDir, info.link)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
    await removeTree(tmp);
  }

  private chain(chainId: string): LayerInfo[] {
    const out: LayerInfo[] = [];
    let id: string | undefined = chainId;
    while (id !== undefined) {
      const info = this.layers.get(id);
      if (info === undefined)
        throw id === chainId ? notFound(id) : new NotFoundError(`layer ${id} (below ${chainId}) not found`);
      out.push(info);
      id = info.parent;
      if (out.length > MAX_LAYER_DEPTH + 1)
        throw new InvalidParameterError(`layer ${chainId}: parent chain too deep`);
    }
    return out;
  }

  private depth(info: LayerInfo): number {
    let d = 0;
    for (let p = info.parent; p !== undefined && d <= MAX_LAYER_DEPTH; p = this.layers.get(p)?.parent) d++;
    return d;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async recover(): Promise<void> {
    await mkdir(this.layersDir, { recursive: true, mode: 0o700 });
    await mkdir(this.linkDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.layersDir)) {
      const dir = join(this.layersDir, name);
      if (name.startsWith('tmp-')) {
        await removeTree(dir);
        continue;
      }
      if (!HEX_RE.test(name)) continue;
      const meta = await readJsonFile<MetaFile>(join(dir, 'meta.json')).catch(() => undefined);
      if (!validMeta(meta, name)) {
        await removeTree(dir);
        continue;
      }
      this.layers.set(meta.chainId, fromMeta(meta));
    }
    const wanted = new Map(
      [...this.layers.values()].map((l) => [l.link, `../layers/${hexOf(l.chainId)}/diff`]),
    );
    for (const name of await readdir(this.linkDir)) {
      const p = join(this.linkDir, name);
      const target = await readlink(p).catch(() => undefined);
      if (target === undefined || wanted.get(name) !== target) {
        await rm(p, { recursive: true, force: true });
      } else {
        wanted.delete(name);
      }
    }
    for (const [name, target] of wanted) {
      // meta.json names a link that is gone: recreate it.
      const hex = target.split('/')[2];
      await lstat(join(this.layersDir, hex, 'diff'));
      await this.createLink(hex, name);
    }
  }
}
