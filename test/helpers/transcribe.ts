/** Transcribe 16 kHz PCM with the real pocketsphinx engine (to check what the caller heard is speech). */
import { spawn } from 'node:child_process';

export function transcribe16k(pcm: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', 'cat | exec pocketsphinx_continuous -infile /dev/stdin -samprate 16000 -logfn /dev/null'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', () => resolve(out.replace(/\s+/g, ' ').trim()));
    p.stdin.end(Buffer.concat([Buffer.alloc(8000), pcm, Buffer.alloc(32000)]));
  });
}

/** Word error rate of `hyp` against `ref` (lower-case words, punctuation ignored): the bench's, one definition. */
export { wer } from '../../bench/wer.js';
