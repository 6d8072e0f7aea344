/**
 * Go's time.ANSIC layout (`Mon Jan _2 15:04:05 2006`) in UTC, as docker
 * version prints build times. Unparseable input comes back unchanged.
 */
export function ansicDate(rfc3339: string): string {
  const ms = Date.parse(rfc3339.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(ms)) return rfc3339;
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number): string => String(n).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}
