/**
 * `node dist/bench/asr-replay.js`: the bench's utterances replayed straight into the local ASR adapter, the way a
 * gateway leg hands them over (the simulator's resampling to the leg rate, 20 ms frames after 0.5 s of line silence,
 * the call's VAD deciding where the utterance ends and the adapter's end-of-speech flush going in there, digital
 * silence after), but faster than real time and with no sockets or jitter buffer. Deterministic (the engine's dither
 * is seeded), so a change of engine argument or conditioning shows as itself, not as timing noise: for tuning, then
 * confirmed by `npm run bench:asr` through real legs.
 *
 *   node dist/bench/asr-replay.js [--set=menu|corpus|cards|all|heldout] [--way=telephone-8k,…] [--fill=auto] [--grammar=menu|cards|none]
 *     [--narrow=on|off] [--args-to=both|telephone] [--verbose] [-- <more pocketsphinx arguments>]
 *   --args-to=telephone: the arguments after `--` go to the telephone-band engine only (tuning it without changing
 *     the wideband engine, e.g. on `--way=wideband-16k`, where `auto` restarts a call judged band-limited as telephone).
 *   --dump=DIR: also write each conditioned 16 kHz stream as DIR/<way>-<set>-<id>.raw (to run the CLI on by hand).
 *   --lead-ms=N: the line's digital silence before each utterance (default 500; 7000 = a caller who first hears a
 *     greeting, see QUIET_KEEP_FRAMES in src/asr/pocketsphinx.ts).
 *   --realtime: one utterance at a time at the leg's own pace (a frame every 20 ms), the end of speech told after
 *     `ENDPOINT_ASR_FLUSH_MS`'s 200 ms of trailing silence as a call does, and the time from that end of speech to the
 *     final reported (the recogniser's share of turn latency; run it on a quiet machine).
 */
import { adapterContext } from '../src/adapters.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadResampler, StreamResampler } from '../src/audio/resampler.js';
import { BandFill, type BandFillMode } from '../src/asr/band-fill.js';
import { createPocketsphinxAsr } from '../src/asr/pocketsphinx.js';
import type { CallInfo } from '../src/call/call-info.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { resamplePcm } from '../src/sim/simulator.js';
import { loadVad } from '../src/vad/fvad.js';
import { CallVad, VadEvent } from '../src/vad/vad.js';
import { audioFor, CARDS_GRAMMAR, legRateOf, loadCorpus, WAYS, type Utterance, type Way } from './asr-corpus.js';
import { loadMenuSet, MENU_GRAMMAR, type MenuUtterance } from './asr-menu.js';
import { loadHeldout } from './asr-heldout.js';
import { wordErrors } from './wer.js';

const LEAD_MS = Number(process.argv.find((a) => a.startsWith('--lead-ms='))?.slice(10) ?? 500);
const TAIL_MS = 3000;
/** Leg audio written per tick, and the tick: 8× real time (the engine decodes faster; the adapter's bounds hold). */
const CHUNK_FRAMES = 8;
const TICK_MS = 20;
// A loaded machine decodes slower: REPLAY_SETTLE_MS / REPLAY_MAX_WAIT_MS give the engine longer (a final missed is an error counted).
const SETTLE_MS = Number(process.env.REPLAY_SETTLE_MS ?? 1500);
const MAX_WAIT_MS = Number(process.env.REPLAY_MAX_WAIT_MS ?? 15000);

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

const dashdash = process.argv.indexOf('--');
const engineArgs = dashdash >= 0 ? process.argv.slice(dashdash + 1) : [];
const argv = dashdash >= 0 ? process.argv.slice(0, dashdash) : process.argv;
const verbose = argv.includes('--verbose');
const set = arg('set', 'menu');
const fill = arg('fill', 'auto') as BandFillMode;
const dump = arg('dump', '');
const narrow = arg('narrow', 'on') === 'on';
const telephoneOnly = arg('args-to', 'both') === 'telephone';
const realtime = argv.includes('--realtime');
/** `--realtime`: the call's early end of speech (`ENDPOINT_ASR_FLUSH_MS=auto` with the local recogniser). */
const REALTIME_FLUSH_MS = 200;
/** Per job, each final's time after the end of speech told before it (`--realtime`). */
const finalLatencies = new Map<Job, number[]>();

function callInfo(id: string, sampleRateHz: number): CallInfo {
  return { callId: id, conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz, language: 'en-US', metadata: {} };
}

/** The leg's frames for one utterance: lead silence, the words at the leg rate, trailing digital silence. */
function legFrames(u: Utterance, way: Way): Buffer[] {
  const rate = legRateOf(way);
  const pcm = resamplePcm(audioFor(u, way), u.sampleRateHz, rate);
  const frameSamples = rate / 50;
  const lead = (LEAD_MS / 20) * frameSamples;
  const total = Math.ceil((lead + pcm.length) / frameSamples) * frameSamples + (TAIL_MS / 20) * frameSamples;
  const all = new Int16Array(total);
  all.set(pcm, lead);
  const bytes = Buffer.from(all.buffer);
  const out: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += frameSamples * 2) out.push(bytes.subarray(off, off + frameSamples * 2));
  return out;
}

/** What the adapter hands the engine (resampled to 16 kHz, band fill), for `--dump`. */
function conditioned(frames: readonly Buffer[], rate: number): Buffer {
  const r = rate === 16000 ? undefined : new StreamResampler(rate, 16000);
  const bf = fill === 'off' ? undefined : new BandFill(fill, rate);
  const parts: Buffer[] = [];
  for (const f of frames) {
    let b: Buffer = Buffer.from(f);
    if (r) {
      const o = r.process(new Int16Array(b.buffer, b.byteOffset, b.length >> 1));
      b = Buffer.from(o.buffer, o.byteOffset, o.byteLength);
    }
    const c = bf ? bf.condition(b) : b;
    if (c) parts.push(c);
  }
  const rest = bf?.flush();
  if (rest) parts.push(rest);
  r?.close();
  return Buffer.concat(parts);
}

interface Job {
  u: Utterance;
  way: Way;
}

async function replay(jobs: readonly Job[], grammar: string | undefined): Promise<Map<Job, string[]>> {
  const config = loadConfig({ ASR_BAND_FILL: fill, ENDPOINTING: 'adaptive', ...(grammar ? { ASR_GRAMMAR: grammar } : {}) });
  const asr = createPocketsphinxAsr(adapterContext(config, createLogger('silent'), process.env), {
    maxProcesses: 2,
    narrow,
    ...(telephoneOnly ? { telephoneArgs: engineArgs } : { engineArgs }),
  });
  const heard = new Map<Job, string[]>();
  const queue = [...jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const rate = legRateOf(job.way);
      const frames = legFrames(job.u, job.way);
      if (dump) writeFileSync(join(dump, `${job.way}-${job.u.set}-${job.u.id}.raw`), conditioned(frames, rate));
      const s = await asr.start({ call: callInfo(job.u.id, rate), signal: new AbortController().signal });
      const finals: string[] = [];
      heard.set(job, finals);
      const read = (async () => {
        for await (const e of s.events) {
          if (e.type === 'final') finals.push(e.text);
          else if (e.type === 'error') finals.push(`<error ${e.code}>`);
        }
      })();
      const silenceMs = realtime ? REALTIME_FLUSH_MS : config.endpointMinSilenceMs;
      const vad = new CallVad({ sampleRateHz: rate, mode: config.vadMode, minSpeechMs: config.vadMinSpeechMs, silenceMs });
      const latencies: number[] = [];
      finalLatencies.set(job, latencies);
      let toldAt = NaN;
      let counted = 0;
      const started = performance.now();
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i]!;
        s.write(f, 0);
        if (vad.push(f) === VadEvent.SpeechEnd) {
          s.endOfSpeech?.();
          toldAt = performance.now();
        }
        if (realtime) {
          // Each new final is timed from the end of speech told before it; then wait for the frame's due time.
          for (; counted < finals.length; counted++) latencies.push(Math.round(performance.now() - toldAt));
          const due = started + (i + 1) * 20;
          while (performance.now() < due) await new Promise((r) => setTimeout(r, Math.max(1, Math.min(5, due - performance.now()))));
        } else if (i % CHUNK_FRAMES === CHUNK_FRAMES - 1) await new Promise((r) => setTimeout(r, TICK_MS));
      }
      vad.close();
      // The engine decodes at its own pace (slower with the full language model): the call stays up, like a caller on
      // the line, until a final came and SETTLE_MS passed without another, or MAX_WAIT_MS.
      const endAt = performance.now() + MAX_WAIT_MS;
      let seen = -1;
      let since = performance.now();
      while (performance.now() < endAt) {
        await new Promise((r) => setTimeout(r, 100));
        if (finals.length !== seen) {
          if (realtime) for (; counted < finals.length; counted++) latencies.push(Math.round(performance.now() - toldAt));
          seen = finals.length;
          since = performance.now();
        } else if (seen > 0 && performance.now() - since >= SETTLE_MS) break;
      }
      const dropped = (s as unknown as { dropped?: number }).dropped ?? 0;
      if (dropped) finals.push(`<${dropped} frames dropped>`);
      s.close();
      await read;
    }
  };
  try {
    await Promise.all(realtime ? [worker()] : [worker(), worker()]);
  } finally {
    await asr.close();
  }
  return heard;
}

async function main(): Promise<void> {
  await loadResampler();
  await loadVad();
  if (dump) mkdirSync(dump, { recursive: true });
  const ways = arg('way', set === 'menu' ? 'telephone-8k' : WAYS.join(',')).split(',') as Way[];
  const g = arg('grammar', set === 'menu' ? 'menu' : set === 'cards' ? 'cards' : 'none');
  const grammar = g === 'menu' ? MENU_GRAMMAR : g === 'cards' ? CARDS_GRAMMAR : undefined;
  const utts: Utterance[] =
    set === 'menu'
      ? await loadMenuSet(false)
      : set === 'heldout'
        ? await loadHeldout()
        : loadCorpus(false).filter((u) => set === 'all' || set === 'corpus' || u.set === set);
  const jobs: Job[] = ways.flatMap((way) => utts.map((u) => ({ u, way })));
  const heard = await replay(jobs, grammar);
  for (const way of ways) {
    let errors = 0;
    let words = 0;
    let right = 0;
    let clean = 0;
    let n = 0;
    for (const j of jobs.filter((x) => x.way === way)) {
      const finals = heard.get(j) ?? [];
      const hyp = finals.join(' ');
      const e = wordErrors(j.u.ref, hyp);
      errors += e.errors;
      words += e.words;
      n++;
      const m = 'chosen' in j.u ? (j.u as MenuUtterance) : undefined;
      const ok = m?.chosen(finals);
      if (ok) right++;
      if (m?.clean(finals)) clean++;
      const lat = finalLatencies.get(j) ?? [];
      if (verbose)
        console.log(
          `${way} ${j.u.set}/${j.u.id}: ${finals.map((f) => JSON.stringify(f)).join(' | ') || '(nothing)'}  ${e.errors}/${e.words}${ok === undefined ? '' : ok ? ' right' : ' WRONG'}${realtime ? `  final after end of speech: ${lat.join(', ')} ms` : ''}`,
        );
    }
    const lats = jobs
      .filter((x) => x.way === way)
      .flatMap((x) => finalLatencies.get(x) ?? [])
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    const q = (p: number) => lats[Math.min(lats.length - 1, Math.floor(p * lats.length))];
    const timing =
      realtime && lats.length ? `, final after end of speech p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${lats.at(-1)} ms (${lats.length} finals)` : '';
    const menu = set === 'menu' ? `, menu right ${right}/${n} (${Math.round((1000 * right) / n) / 10} %), all finals right ${clean}/${n}` : '';
    console.log(
      `${way}: WER ${Math.round((1000 * errors) / words) / 10} % (${errors}/${words})${timing}${menu}   fill=${fill} narrow=${narrow ? 'on' : 'off'} grammar=${g} args${telephoneOnly ? '(telephone)' : ''}=${engineArgs.join(' ')}`,
    );
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
