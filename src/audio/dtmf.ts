/** DTMF tone synthesis (ITU-T Q.23 row/column pairs), for bots that answer a key press with its tone. */
const ROWS = [697, 770, 852, 941];
const COLS = [1209, 1336, 1477, 1633];
const KEYS = ['123A', '456B', '789C', '*0#D'];

/** 16-bit PCM of one key's tone, `durationMs` long at `sampleRateHz`, with 5 ms fades. Undefined for an unknown key. */
export function dtmfTone(digit: string, durationMs: number, sampleRateHz: number): Int16Array | undefined {
  const r = KEYS.findIndex((row) => row.includes(digit.toUpperCase()));
  if (r < 0) return undefined;
  const c = KEYS[r]!.indexOf(digit.toUpperCase());
  const n = Math.round((durationMs / 1000) * sampleRateHz);
  const fade = Math.round(0.005 * sampleRateHz);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / sampleRateHz;
    const env = Math.min(1, i / fade, (n - 1 - i) / fade);
    out[i] = Math.round(8000 * env * (Math.sin(2 * Math.PI * ROWS[r]! * t) + Math.sin(2 * Math.PI * COLS[c]! * t)));
  }
  return out;
}
