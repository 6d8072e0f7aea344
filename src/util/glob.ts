/**
 * Go's path.Match: `*` matches any run of non-`/` characters, `?` one
 * non-`/` character, `[...]` a class (with `^` or `!` negation and ranges),
 * `\` escapes. Returns false for malformed patterns.
 */
export function pathMatch(pattern: string, name: string): boolean {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) return false;
      source += escape(pattern[i] ?? '');
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return false;
      let cls = pattern.slice(i + 1, end);
      let negate = false;
      if (cls.startsWith('^') || cls.startsWith('!')) {
        negate = true;
        cls = cls.slice(1);
      }
      source += `[${negate ? '^/' : ''}${cls.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else source += escape(c);
  }
  try {
    return new RegExp(source + '$').test(name);
  } catch {
    return false;
  }
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
