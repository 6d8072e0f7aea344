/**
 * Detach keys as moby/term reads them, shared by the daemon (attach and exec
 * streams) and the CLI (its local terminal): comma-separated `ctrl-a` to
 * `ctrl-z`, `ctrl-@`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_`,
 * `DEL`, or single characters.
 */

/** moby/term's control key names; the index is the byte. */
const CONTROL_KEYS = [
  'ctrl-@',
  'ctrl-a',
  'ctrl-b',
  'ctrl-c',
  'ctrl-d',
  'ctrl-e',
  'ctrl-f',
  'ctrl-g',
  'ctrl-h',
  'ctrl-i',
  'ctrl-j',
  'ctrl-k',
  'ctrl-l',
  'ctrl-m',
  'ctrl-n',
  'ctrl-o',
  'ctrl-p',
  'ctrl-q',
  'ctrl-r',
  'ctrl-s',
  'ctrl-t',
  'ctrl-u',
  'ctrl-v',
  'ctrl-w',
  'ctrl-x',
  'ctrl-y',
  'ctrl-z',
  'ctrl-[',
  'ctrl-\\',
  'ctrl-]',
  'ctrl-^',
  'ctrl-_',
];

/** Docker's default detach sequence. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * moby/term's ToBytes: `ctrl-p,ctrl-q` is `[16, 17]`.
 * @throws Error `Unknown character: 'x'`.
 */
export function detachKeysToBytes(keys: string): number[] {
  const codes: number[] = [];
  for (const key of keys.split(',')) {
    if (Buffer.byteLength(key) === 1) {
      codes.push(key.charCodeAt(0));
      continue;
    }
    const code = CONTROL_KEYS.indexOf(key);
    if (code !== -1) codes.push(code);
    else if (key === 'DEL') codes.push(127);
    else throw new Error(`Unknown character: '${key}'`);
  }
  return codes;
}
