/**
 * OCI platforms (`linux/arm64/v8`): parsing, normalization, formatting and
 * selection of the best manifest from an image index, following the rules of
 * github.com/containerd/platforms (Parse, Normalize, Only, Format), which
 * moby uses for `--platform` and for pulls.
 *
 * Not covered: Windows OS-version compatibility (containerd's windows matcher);
 * `osVersion` is carried but not compared.
 */
import os from 'node:os';

import { InvalidParameterError } from '../../errors.js';

/** An OCI platform. Architecture and OS names are Go's (GOOS/GOARCH). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
}

/** A platform with every field present ('' / [] when absent), for internal comparisons. */
interface Full {
  os: string;
  architecture: string;
  variant: string;
  osVersion: string;
  osFeatures: string[];
}

const KNOWN_OS: ReadonlySet<string> = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'zos',
]);

const KNOWN_ARCH: ReadonlySet<string> = new Set([
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'ppc64',
  'ppc64le',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
]);

// ---- the host ------------------------------------------------------------------------------

const NODE_TO_GOOS: Readonly<Record<string, string>> = {
  win32: 'windows',
  sunos: 'solaris',
  cygwin: 'windows',
};
const NODE_TO_GOARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  ia32: '386',
  mipsel: 'mipsle',
  mips64el: 'mips64le',
};

/**
 * The OCI platform of a Node.js build: `process.platform`/`process.arch` mapped
 * to Go's names (`x64` → amd64, `ia32` → 386, little-endian `ppc64` → ppc64le);
 * arm64 gets variant v8; arm gets `v<armVersion>` (Node's build-time
 * `arm_version`), v7 when unknown.
 */
export function platformFromNode(
  nodePlatform: string,
  nodeArch: string,
  armVersion?: string | number,
  endianness: 'BE' | 'LE' = 'LE',
): Platform {
  const osName = NODE_TO_GOOS[nodePlatform] ?? nodePlatform;
  let architecture = NODE_TO_GOARCH[nodeArch] ?? nodeArch;
  if (architecture === 'ppc64' && endianness === 'LE') architecture = 'ppc64le';
  if (architecture === 'arm64') return { os: osName, architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const version = armVersion === undefined ? '' : String(armVersion);
    return { os: osName, architecture, variant: /^[0-9]+$/.test(version) ? `v${version}` : 'v7' };
  }
  return { os: osName, architecture };
}

/** The platform berthd runs on, e.g. `{ os: 'linux', architecture: 'amd64' }` or linux/arm64/v8. */
export function hostPlatform(): Platform {
  const variables: Readonly<Record<string, unknown>> = process.config.variables;
  const armVersion = variables['arm_version'];
  return platformFromNode(
    process.platform,
    process.arch,
    typeof armVersion === 'string' || typeof armVersion === 'number' ? armVersion : undefined,
    os.endianness(),
  );
}

// ---- normalization -------------------------------------------------------------------------

function normalizeOs(name: string, host: () => Platform): string {
  if (name === '') return host().os;
  const lower = name.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's architecture aliases and default variants. arm64's v8 normalizes to ''. */
function normalizeArch(arch: string, variant: string): [architecture: string, variant: string] {
  let a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      a = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      a = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      a = 'arm64';
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      break;
    case 'armhf':
      a = 'arm';
      v = 'v7';
      break;
    case 'armel':
      a = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      break;
  }
  return [a, v];
}

function full(p: Platform): Full {
  return {
    os: p.os,
    architecture: p.architecture,
    variant: p.variant ?? '',
    osVersion: p.osVersion ?? '',
    osFeatures: p.osFeatures ?? [],
  };
}

function normalizeFull(p: Platform, host: () => Platform = hostPlatform): Full {
  const f = full(p);
  const [architecture, variant] = normalizeArch(f.architecture, f.variant);
  return {
    os: normalizeOs(f.os, host),
    architecture,
    variant,
    osVersion: f.osVersion,
    osFeatures: [...new Set(f.osFeatures)].sort(),
  };
}

/** Drops empty optional fields. */
function toPlatform(f: Full): Platform {
  const p: Platform = { os: f.os, architecture: f.architecture };
  if (f.variant !== '') p.variant = f.variant;
  if (f.osVersion !== '') p.osVersion = f.osVersion;
  if (f.osFeatures.length > 0) p.osFeatures = [...f.osFeatures];
  return p;
}

/**
 * containerd's Normalize: lowercase OS (`macos` → darwin, empty → host OS),
 * architecture aliases (`x86_64` → amd64, `aarch64` → arm64, `armhf` → arm/v7,
 * `armel` → arm/v6, `i386` → 386), default variants (arm → v7; arm64 v8 → none),
 * sorted unique OS features.
 */
export function normalizePlatform(p: Platform): Platform {
  return toPlatform(normalizeFull(p));
}

// ---- parsing -------------------------------------------------------------------------------

const COMPONENT_RE = /^[A-Za-z0-9_.-]+$/;
/** OS, optionally with `(version+feature+feature)`; values are %-encoded. */
const OS_RE = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;

/** Go's %q for the strings that appear here. */
const quote = (s: string): string => JSON.stringify(s);

/** Go's url.PathUnescape: %XX escapes decoded, a malformed escape is an error. */
function decodeOsOption(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new Error(`invalid URL escape ${quote(value.slice(i, i + 3))}`);
      }
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c); // the OS pattern admits ASCII only
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Parses a platform specifier as containerd's platforms.Parse does:
 * `linux`, `linux/amd64`, `linux/arm64/v8`, `windows(10.0.17763)/amd64`, or an
 * architecture alone (`amd64`, `arm64`), which gets the host OS. An OS alone
 * gets the host architecture. Architecture aliases are normalized
 * (`x86_64` → amd64, `aarch64` → arm64, `armhf` → arm v7, `armel` → arm v6,
 * `i386` → 386); as in containerd, arm's default variant v7 is left out of
 * `linux/arm`, and `linux/arm64/v8` keeps its v8 (matching treats arm64 and
 * arm64/v8 as the same).
 *
 * Errors (InvalidParameterError) carry containerd's messages, e.g.
 * `"foo": unknown operating system or architecture: invalid argument`.
 *
 * @param host the platform to fill in missing parts from; the host's by default.
 */
export function parsePlatform(spec: string, host?: Platform): Platform {
  const hostOf = (): Platform => host ?? hostPlatform();
  const fail = (message: string): never => {
    throw new InvalidParameterError(message);
  };
  if (spec.includes('*')) fail(`${quote(spec)}: wildcards not yet supported: invalid argument`);

  // strings.SplitN(spec, "/", 4)
  const parts = spec.split('/');
  if (parts.length > 4) parts.splice(3, parts.length - 3, parts.slice(3).join('/'));

  const first = parts[0] ?? '';
  const osMatch = OS_RE.exec(first);
  if (osMatch === null) {
    return fail(
      `${quote(first)} is an invalid OS component of ${quote(spec)}: ` +
        `OSAndVersion specifier component must match ${quote(OS_RE.source)}: invalid argument`,
    );
  }
  const p: Full = {
    os: normalizeOs(osMatch[1] ?? '', hostOf),
    architecture: '',
    variant: '',
    osVersion: '',
    osFeatures: [],
  };
  const rawVersion = osMatch[2] ?? '';
  try {
    p.osVersion = decodeOsOption(rawVersion);
  } catch (err) {
    fail(`${quote(spec)} has an invalid OS version ${quote(rawVersion)}: ${(err as Error).message}`);
  }
  const rawFeatures = osMatch[3] ?? '';
  if (rawFeatures !== '') {
    for (const raw of rawFeatures.slice(1).split('+')) {
      let feature = '';
      try {
        feature = decodeOsOption(raw.trim());
      } catch (err) {
        fail(
          `${quote(spec)} has invalid OS features: invalid os feature ${quote(raw)}: ${(err as Error).message}`,
        );
      }
      if (feature !== '') p.osFeatures.push(feature);
    }
  }
  for (const part of parts.slice(1)) {
    if (!COMPONENT_RE.test(part)) {
      fail(
        `${quote(part)} is an invalid component of ${quote(spec)}: ` +
          `platform specifier component must match ${quote(COMPONENT_RE.source)}: invalid argument`,
      );
    }
  }

  switch (parts.length) {
    case 1: {
      if (KNOWN_OS.has(p.os)) {
        const h = hostOf();
        p.architecture = h.architecture;
        if (h.architecture === 'arm' && (h.variant ?? '') !== 'v7') p.variant = h.variant ?? '';
        return toPlatform(p);
      }
      [p.architecture, p.variant] = normalizeArch(first, '');
      if (p.architecture === 'arm' && p.variant === 'v7') p.variant = '';
      if (KNOWN_ARCH.has(p.architecture)) {
        p.os = hostOf().os;
        return toPlatform(p);
      }
      return fail(`${quote(spec)}: unknown operating system or architecture: invalid argument`);
    }
    case 2:
      [p.architecture, p.variant] = normalizeArch(parts[1] ?? '', '');
      if (p.architecture === 'arm' && p.variant === 'v7') p.variant = '';
      return toPlatform(p);
    case 3:
      [p.architecture, p.variant] = normalizeArch(parts[1] ?? '', parts[2] ?? '');
      if (p.architecture === 'arm64' && p.variant === '') p.variant = 'v8';
      return toPlatform(p);
    default:
      return fail(`${quote(spec)}: cannot parse platform specifier: invalid argument`);
  }
}

// ---- formatting ----------------------------------------------------------------------------

function joinParts(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

/** `linux/arm64/v8`, `linux/amd64`; `unknown` when there is no OS (containerd's Format). */
export function formatPlatform(p: Platform): string {
  if (p.os === '') return 'unknown';
  return joinParts(p.os, p.architecture, p.variant ?? '');
}

const encodeOsOption = (v: string): string =>
  v.replace(/[%+()/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Like {@link formatPlatform}, with OS version and features: `windows(10.0.17763+win32k)/amd64` (FormatAll). */
export function formatPlatformAll(p: Platform): string {
  if (p.os === '') return 'unknown';
  const version = encodeOsOption(p.osVersion ?? '');
  const features = [...new Set(p.osFeatures ?? [])]
    .filter((f) => f !== '')
    .sort()
    .map(encodeOsOption)
    .join('+');
  let osPart = p.os;
  if (version !== '' || features !== '') osPart += `(${version}${features === '' ? '' : `+${features}`})`;
  return joinParts(osPart, p.architecture, p.variant ?? '');
}

// ---- matching ------------------------------------------------------------------------------

/** A matcher for one exact (normalized) platform, as containerd's NewMatcher. */
function exactMatch(wanted: Full, candidate: Platform): boolean {
  const c = normalizeFull(candidate);
  if (c.os !== wanted.os || c.architecture !== wanted.architecture || c.variant !== wanted.variant) {
    return false;
  }
  // Every OS feature the candidate requires must be offered by the wanted platform.
  return c.osFeatures.every((feature) => wanted.osFeatures.includes(feature));
}

/** arm64 variants and the v8.x levels each implies, highest first (containerd's table). */
function arm64Levels(variant: string): string[] | undefined {
  const m = /^v(8|9)(?:\.([0-9]))?$/.exec(variant);
  if (m === null) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? '0');
  const levels: string[] = [];
  const push = (maj: number, min: number): void => {
    levels.push(min === 0 ? `v${maj}` : `v${maj}.${min}`);
  };
  if (major === 8) {
    for (let i = minor; i >= 0; i--) push(8, i);
  } else {
    if (minor > 7) return undefined;
    for (let i = minor; i >= 0; i--) push(9, i);
    // v9.n is a superset of v8.(n+5), capped at v8.9.
    for (let i = Math.min(minor + 5, 9); i >= 0; i--) push(8, i);
  }
  return levels;
}

/**
 * The platforms a host of platform `p` (normalized) can run, best first
 * (containerd's platformVector): amd64/vN also runs lower amd64 levels and 386;
 * arm/vN runs arm down to v5; arm64 runs its lower levels and 32-bit arm.
 */
function compatibleVector(p: Full): Full[] {
  const like = (architecture: string, variant: string): Full => ({ ...p, architecture, variant });
  switch (p.architecture) {
    case 'amd64': {
      const vector = [p];
      const level = Number.parseInt(p.variant.replace(/^v/, ''), 10);
      if (/^v?[0-9]+$/.test(p.variant) && level > 1) {
        for (let l = level - 1; l >= 1; l--) vector.push(like('amd64', `v${l}`));
      }
      vector.push(like('386', ''));
      return vector;
    }
    case 'arm': {
      const vector = [p];
      const level = Number.parseInt(p.variant.replace(/^v/, ''), 10);
      if (/^v?[0-9]+$/.test(p.variant) && level > 5) {
        for (let l = level - 1; l >= 5; l--) vector.push(like('arm', `v${l}`));
      }
      return vector;
    }
    case 'arm64': {
      let variant = p.variant === '' ? 'v8' : p.variant;
      const vector = (arm64Levels(variant) ?? []).map((v) => like('arm64', v));
      if (variant.startsWith('v8') || variant.startsWith('v9')) variant = 'v8';
      return [...vector, ...compatibleVector(like('arm', variant))];
    }
    default:
      return [p];
  }
}

/** The normalized matchers of containerd's Only(wanted), best first. */
function onlyMatchers(wanted: Platform): Full[] {
  return compatibleVector(normalizeFull(wanted)).map((p) => normalizeFull(toPlatform(p)));
}

/**
 * Whether an image for `candidate` runs on `wanted`, as containerd's
 * `Only(wanted)` decides: same OS, and the same architecture and variant or a
 * compatible lower one (arm/v7 runs v6 and v5; arm64 runs arm64 and arm;
 * amd64 runs 386). `arm64` and `arm64/v8` are the same platform.
 */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  return onlyMatchers(wanted).some((m) => exactMatch(m, candidate));
}

/** Whether `candidate` is exactly `wanted` after normalization (containerd's OnlyStrict). */
export function platformMatchesStrict(wanted: Platform, candidate: Platform): boolean {
  return exactMatch(normalizeFull(wanted), candidate);
}

/**
 * The best entry of an image index for `wanted`, or undefined when none fits:
 * entries are filtered with {@link platformMatches} and ranked by containerd's
 * Only(wanted) order (exact platform first, then ever lower compatible
 * variants; among equals, the one with more OS features, then index order).
 * Entries without a platform and `unknown/unknown` entries (attestation
 * manifests) are never chosen.
 */
export function selectManifest<T extends { platform?: Platform }>(
  entries: readonly T[],
  wanted: Platform,
): T | undefined {
  const matchers = onlyMatchers(wanted);
  let best: T | undefined;
  let bestRank = Infinity;
  let bestFeatures = -1;
  for (const entry of entries) {
    const p = entry.platform;
    if (p === undefined || (p.os === 'unknown' && p.architecture === 'unknown')) continue;
    const rank = matchers.findIndex((m) => exactMatch(m, p));
    if (rank < 0) continue;
    const features = p.osFeatures?.length ?? 0;
    if (rank < bestRank || (rank === bestRank && features > bestFeatures)) {
      best = entry;
      bestRank = rank;
      bestFeatures = features;
    }
  }
  return best;
}
