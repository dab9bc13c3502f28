/**
 * The caller's audio for each scenario turn, rendered once per leg rate: a recording (any rate, resampled), text spoken
 * by Flite, a synthesised cough, or silence; with the mid-sentence pause inserted. The caller knows exactly where its
 * speech is: onset and end are the first and last 20 ms frames of the clean clip above −40 dBFS.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { loadResampler } from '../audio/resampler.js';
import { readAudioFile } from '../cli.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { resamplePcm } from '../sim/simulator.js';
import { createFliteTts } from '../tts/flite.js';
import type { TtsAdapter } from '../tts/types.js';
import type { CallInfo } from '../call/call-info.js';
import { coughSound } from './impairments.js';
import { ScenarioError, type Scenario, type ScenarioTurn } from './scenario.js';
import { adapterContext } from '../adapters.js';

/** Where relative recording paths are looked up after the scenario's own folder (Debian pocketsphinx-testdata). */
export const TESTDATA_DIR = '/usr/share/pocketsphinx/test/data';

/** −40 dBFS RMS: louder frames are the caller speaking (the simulator's threshold). */
const LOUD_RMS = 328;

/** One turn's audio at the leg rate, and where the speech is in it (samples). */
export interface RenderedTurn {
  pcm: Int16Array;
  /** First sample of the first loud frame; −1 when the clip is silent. */
  onsetSample: number;
  /** One past the last loud frame. */
  endSample: number;
  /** The inserted pause, if any. */
  pause?: { startSample: number; endSample: number };
}

function loudFrames(pcm: Int16Array, rateHz: number): { first: number; last: number; quietest: (from: number, to: number) => number } {
  const n = rateHz / 50;
  const frames = Math.floor(pcm.length / n);
  const rms = new Float64Array(frames);
  let first = -1;
  let last = -1;
  for (let f = 0; f < frames; f++) {
    let acc = 0;
    for (let i = f * n; i < (f + 1) * n; i++) acc += pcm[i]! * pcm[i]!;
    rms[f] = Math.sqrt(acc / n);
    if (rms[f]! > LOUD_RMS) {
      if (first < 0) first = f;
      last = f;
    }
  }
  const quietest = (from: number, to: number) => {
    let best = Math.max(0, Math.min(frames - 1, from));
    for (let f = Math.max(0, from); f <= Math.min(frames - 1, to); f++) if (rms[f]! < rms[best]!) best = f;
    return best;
  };
  return { first, last, quietest };
}

/** Speech bounds of a clip, and the clip with a pause of `pauseMs` inserted at `pauseAtMs` from the onset. */
export function withPause(pcm: Int16Array, rateHz: number, pauseMs?: number, pauseAtMs?: number): RenderedTurn {
  const n = rateHz / 50;
  const lf = loudFrames(pcm, rateHz);
  if (lf.first < 0) return { pcm, onsetSample: -1, endSample: -1 };
  const onset = lf.first * n;
  const end = (lf.last + 1) * n;
  if (!pauseMs) return { pcm, onsetSample: onset, endSample: end };
  // Cut at the quietest frame within ±200 ms of the asked point, so the pause falls between words when it can.
  const target = lf.first + Math.round((pauseAtMs ?? ((end - onset) * 1000) / rateHz / 2) / 20);
  const cutFrame = Math.min(lf.last, Math.max(lf.first + 1, lf.quietest(target - 10, target + 10)));
  const cut = cutFrame * n;
  const pauseSamples = Math.round((pauseMs * rateHz) / 1000);
  const out = new Int16Array(pcm.length + pauseSamples);
  out.set(pcm.subarray(0, cut));
  out.set(pcm.subarray(cut), cut + pauseSamples);
  return { pcm: out, onsetSample: onset, endSample: end + pauseSamples, pause: { startSample: cut, endSample: cut + pauseSamples } };
}

function gain(pcm: Int16Array, db: number | undefined): Int16Array {
  if (!db) return pcm;
  const g = 10 ** (db / 20);
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! * g)));
  return out;
}

function resolveAudioPath(path: string, baseDir: string | undefined): string {
  if (isAbsolute(path)) return path;
  for (const dir of [baseDir, TESTDATA_DIR]) if (dir && existsSync(join(dir, path))) return join(dir, path);
  throw new ScenarioError(`audio file ${path} not found (looked in ${baseDir ?? '.'} and ${TESTDATA_DIR})`);
}

/** Renders turns at a leg rate; caches per (scenario, turn, rate) so repeats cost nothing. Close it when done. */
export class TurnRenderer {
  private tts: TtsAdapter | undefined;
  private readonly cache = new Map<string, Promise<RenderedTurn[]>>();

  /** Every turn of `s` at `rateHz`, in order. */
  render(s: Scenario, rateHz: number): Promise<RenderedTurn[]> {
    const key = `${s.name}@${rateHz}`;
    let p = this.cache.get(key);
    if (!p) {
      p = Promise.all(s.turns.map((t) => this.renderTurn(t, s, rateHz)));
      p.catch(() => this.cache.delete(key));
      this.cache.set(key, p);
    }
    return p;
  }

  private async renderTurn(t: ScenarioTurn, s: Scenario, rateHz: number): Promise<RenderedTurn> {
    await loadResampler();
    const a = t.audio;
    let pcm: Int16Array;
    if (a.type === 'file') {
      const wav = readAudioFile(resolveAudioPath(a.path, s.baseDir), a.rawRateHz ?? 16000);
      pcm = gain(resamplePcm(wav.samples, wav.sampleRateHz, rateHz), a.gainDb);
    } else if (a.type === 'text') {
      const clip = await this.speak(a.text);
      pcm = gain(resamplePcm(clip.samples, clip.sampleRateHz, rateHz), a.gainDb);
    } else if (a.type === 'cough') pcm = coughSound(rateHz, a.durationMs, a.levelDbfs, a.seed);
    else pcm = new Int16Array(Math.round((a.durationMs * rateHz) / 1000));
    if (a.type === 'silence') return { pcm, onsetSample: -1, endSample: -1 };
    return withPause(pcm, rateHz, t.pauseMs, t.pauseAtMs);
  }

  private async speak(text: string): Promise<{ samples: Int16Array; sampleRateHz: number }> {
    this.tts ??= createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '1' }), createLogger('silent')));
    const call = {
      callId: 'eval-caller',
      conversationUuid: undefined,
      from: undefined,
      to: undefined,
      sampleRateHz: 16000,
      language: 'en-US',
      headers: {},
    } as unknown as CallInfo;
    const parts: Int16Array[] = [];
    let rate = 16000;
    for await (const c of this.tts.synthesize({ text, call, voice: 'slt', signal: new AbortController().signal })) {
      parts.push(c.audio);
      rate = c.sampleRateHz;
    }
    const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return { samples: out, sampleRateHz: rate };
  }

  async close(): Promise<void> {
    await this.tts?.close?.();
    this.tts = undefined;
  }
}
