/**
 * What the band fill costs per 20 ms chunk at 16 kHz, against a baseline measured in the same run on the same machine:
 * the adapter's own 8→16 kHz resampling of a chunk (work every 8 kHz call already pays).
 */
import { BandFill } from '../src/asr/band-fill.js';
import { loadResampler, StreamResampler } from '../src/audio/resampler.js';
import { readWavFile } from '../src/audio/wav.js';
import { TESTDATA } from './asr-corpus.js';

const CHUNK_SAMPLES = 320;
const ROUNDS = 20000;

function usPer(fn: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) fn(i); // warm-up: let the JIT settle
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) fn(i);
  return Math.round(Number(process.hrtime.bigint() - t0) / ROUNDS / 10) / 100;
}

export async function measureFillCost(): Promise<{
  fillUsPerChunk: number;
  measureUsPerChunk: number;
  resampleUsPerChunk: number;
  fillToResampleRatio: number;
}> {
  await loadResampler();
  const speech = readWavFile(`${TESTDATA}/cards/005.wav`).samples;
  const chunks = Math.floor(speech.length / CHUNK_SAMPLES);
  const src = Buffer.from(speech.buffer, speech.byteOffset, chunks * CHUNK_SAMPLES * 2);
  const work = Buffer.alloc(CHUNK_SAMPLES * 2);
  const on = new BandFill('on', 16000);
  const fillUs = usPer((i) => {
    src.copy(work, 0, (i % chunks) * CHUNK_SAMPLES * 2, ((i % chunks) + 1) * CHUNK_SAMPLES * 2);
    on.condition(work);
  });
  // A wideband call in auto mode after its first decision: no longer measured nor filled (its steady cost, about nothing).
  const auto = new BandFill('auto', 16000);
  for (let i = 0; i < chunks && auto.holding; i++) auto.condition(Buffer.from(src.subarray(i * CHUNK_SAMPLES * 2, (i + 1) * CHUNK_SAMPLES * 2)));
  const measureUs = usPer((i) => {
    src.copy(work, 0, (i % chunks) * CHUNK_SAMPLES * 2, ((i % chunks) + 1) * CHUNK_SAMPLES * 2);
    auto.condition(work);
  });
  const r = new StreamResampler(8000, 16000);
  const half = new Int16Array(CHUNK_SAMPLES / 2);
  const resampleUs = usPer((i) => {
    half.set(speech.subarray((i % chunks) * CHUNK_SAMPLES, (i % chunks) * CHUNK_SAMPLES + half.length));
    r.process(half);
  });
  r.close();
  return {
    fillUsPerChunk: fillUs,
    measureUsPerChunk: measureUs,
    resampleUsPerChunk: resampleUs,
    fillToResampleRatio: Math.round((fillUs / resampleUs) * 100) / 100,
  };
}
