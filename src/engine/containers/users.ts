import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { InvalidParameterError } from '../../errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 7 && f[0] !== '' && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? ''))
    .map((f) => ({ name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3 && f[0] !== '' && /^\d+$/.test(f[2] ?? ''))
    .map((f) => ({ name: f[0] ?? '', gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/**
 * Resolves Docker's `--user` forms (`name`, `uid`, `name:group`, `uid:gid`)
 * against the container's /etc/passwd and /etc/group, as runc's user
 * lookup does: unknown names are errors with its message; unknown numeric
 * IDs are used as they are. Supplementary groups are the user's groups
 * plus `groupAdd`.
 */
export function resolveUser(
  spec: string,
  passwd: string,
  group: string,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  // No user: uid 0, whether or not the image has an /etc/passwd (FROM scratch images have none).
  const [userPart = '', groupPart] = (spec === '' ? '0' : spec).split(':');
  let uid: number;
  let gid: number;
  let home: string;
  let userName: string | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = users.find((u) => u.uid === uid);
    gid = entry?.gid ?? 0;
    home = entry?.home ?? '/';
    userName = entry?.name;
  } else {
    const entry = users.find((u) => u.name === userPart);
    if (!entry)
      throw new InvalidParameterError(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
    home = entry.home;
    userName = entry.name;
  }
  if (groupPart !== undefined && groupPart !== '') gid = resolveGroup(groupPart, groups);
  const additional = new Set<number>();
  if (userName !== undefined && groupPart === undefined) {
    for (const g of groups) if (g.members.includes(userName)) additional.add(g.gid);
  }
  for (const g of groupAdd) additional.add(resolveGroup(g, groups));
  return { uid, gid, additionalGids: [...additional].sort((a, b) => a - b), home };
}

function resolveGroup(spec: string, groups: GroupEntry[]): number {
  if (/^\d+$/.test(spec)) return Number(spec);
  const entry = groups.find((g) => g.name === spec);
  if (!entry)
    throw new InvalidParameterError(`unable to find group ${spec}: no matching entries in group file`);
  return entry.gid;
}

/** Reads /etc/passwd and /etc/group under a root filesystem; missing files read as empty. */
export async function readUserFiles(rootfs: string): Promise<{ passwd: string; group: string }> {
  const read = (p: string): Promise<string> => readFile(join(rootfs, p), 'utf8').catch(() => '');
  return { passwd: await read('etc/passwd'), group: await read('etc/group') };
}
