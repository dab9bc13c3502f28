/**
 * Words of the bot's replies the caller actually heard: the heard audio of each reply, transcribed by Debian's
 * `pocketsphinx_continuous` (the engine the offline ASR adapter runs), words counted. Heard audio at 8 kHz has nothing
 * above 4 kHz, where pocketsphinx's en-us model expects energy (it hears nothing on band-limited speech), so the empty
 * band is filled with high-passed white noise at about −48 dBFS, as measured in GUIDE.md. An honest count of what was
 * audible, not of what the bot meant to say; recognition errors count too (pocketsphinx WER on Flite ≈ 2 %).
 */
import { spawn } from 'node:child_process';
import { loadResampler } from '../audio/resampler.js';
import { resamplePcm } from '../sim/simulator.js';
import { Biquad, Rng } from './impairments.js';

/** Transcribe 16 kHz PCM; resolves '' when pocketsphinx is missing or fails (the caller reports words as null). */
export function transcribe16k(pcm: Int16Array): Promise<string | null> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', 'cat | exec pocketsphinx_continuous -infile /dev/stdin -samprate 16000 -logfn /dev/null'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', () => resolve(null));
    p.on('exit', (code) => resolve(code === 0 ? out.replace(/\s+/g, ' ').trim() : null));
    p.stdin.on('error', () => {});
    p.stdin.end(Buffer.concat([Buffer.alloc(8000), Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), Buffer.alloc(32000)]));
  });
}

/** Fill the band above 4 kHz of upsampled narrowband audio with quiet high-passed noise (deterministic). */
function fillHighBand(pcm: Int16Array): Int16Array {
  const noise = new Float32Array(pcm.length);
  const rng = new Rng(5);
  for (let i = 0; i < noise.length; i++) noise[i] = rng.gauss();
  for (const q of [0.5412, 1.3066]) Biquad.highpass(16000, 4200, q).process(noise);
  const rms = 32768 * 10 ** (-48 / 20);
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! + noise[i]! * rms)));
  return out;
}

/** Words pocketsphinx hears in a stretch of heard audio at `rateHz`; null when it could not run. */
export async function heardWords(pcm: Int16Array, rateHz: number): Promise<{ words: number; text: string } | null> {
  await loadResampler();
  let x = resamplePcm(pcm, rateHz, 16000);
  if (rateHz < 16000) x = fillHighBand(x);
  const text = await transcribe16k(x);
  if (text === null) return null;
  return { words: text.split(/\s+/).filter(Boolean).length, text };
}
