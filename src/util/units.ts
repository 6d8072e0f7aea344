/**
 * Sizes as Docker's go-units RAMInBytes reads them: a number with an optional
 * unit b, k, m, g, t, p (optionally followed by b or ib), all binary
 * (k = 1024). Returns undefined for anything else.
 */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const power = ['', 'k', 'm', 'g', 't', 'p'].indexOf(unit);
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** Docker's HumanSize: decimal units with 3 significant digits, e.g. "1.5MB", "512B". */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${Number(value.toPrecision(3))}${units[i]}`;
}
