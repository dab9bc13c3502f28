/** Transcribe 16 kHz PCM with the real pocketsphinx engine (to check what the caller heard is speech). */
import { spawn } from 'node:child_process';

export function transcribe16k(pcm: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', 'cat | exec pocketsphinx_continuous -infile /dev/stdin -samprate 16000 -logfn /dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', () => resolve(out.replace(/\s+/g, ' ').trim()));
    p.stdin.end(Buffer.concat([Buffer.alloc(8000), pcm, Buffer.alloc(32000)]));
  });
}

/** Word error rate of `hyp` against `ref` (lower-case words, punctuation ignored). */
export function wer(ref: string, hyp: string): number {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9' ]/g, ' ').split(/\s+/).filter(Boolean);
  const r = norm(ref);
  const h = norm(hyp);
  const d = Array.from({ length: r.length + 1 }, (_, i) => [i, ...new Array<number>(h.length).fill(0)]);
  for (let j = 1; j <= h.length; j++) d[0][j] = j;
  for (let i = 1; i <= r.length; i++) {
    for (let j = 1; j <= h.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
  }
  return r.length ? d[r.length][h.length] / r.length : h.length ? 1 : 0;
}
