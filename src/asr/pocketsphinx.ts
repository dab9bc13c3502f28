/**
 * Offline ASR: Debian's `pocketsphinx_continuous` (+ `pocketsphinx-en-us`), one process per call, fed 16 kHz PCM
 * through a real pipe. Finals only, printed one per utterance; each becomes a `final` event. Good for demos, wideband
 * audio and small grammars (`ASR_GRAMMAR`, `ASR_KEYPHRASES`); use a cloud adapter or your own in production.
 *
 * Sized, because each recogniser costs ~80–105 MB and ~0.6 s of CPU to load its model:
 * - at most `LOCAL_ASR_MAX_PROCESSES` run at once; a call past it goes on without ASR (`start` rejects with
 *   `ASR_OVER_BUDGET`), counted in `stats.overBudget` and logged once, then summarised at most every 10 s;
 * - at most {@link MAX_STARTING} load their model at once; the others wait their turn (their audio is kept, bounded);
 * - they run at a lower CPU priority (`LOCAL_ASR_NICE`, default {@link RECOGNISER_NICE}) than the gateway, so the
 *   20 ms loop keeps its priority when they compete for the cores.
 *
 * The pipe: `-infile /dev/stdin` needs a pipe it can open, and the stdio "pipe" Node gives a child is a UNIX socket
 * pair on Linux (opening `/dev/stdin` on it fails with ENXIO). So a `cat` copies the socket into a real pipe: with bash,
 * `exec pocketsphinx_continuous -infile /dev/fd/3 … 3< <(exec cat)` (two processes, and the child Node sees *is* the
 * recogniser); without bash, `sh -c 'cat | exec pocketsphinx_continuous -infile /dev/stdin …'` (three). Either way
 * the child leads its own process group, which is what a hard kill signals.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { StreamResampler } from '../audio/resampler.js';
import { AdapterError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { Channel } from '../util/channel.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { BandFill, type BandFillMode } from './band-fill.js';
import { ProcessBudget, type BudgetTicket, type ProcessBudgetStats } from './process-budget.js';
import type { AsrAdapter, AsrEvent, AsrStream, AsrStreamOptions } from './types.js';

export const POCKETSPHINX_BIN = 'pocketsphinx_continuous';
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us/en-us';
/** Recognisers loading their model at once (each takes ~0.6 s of a core); later starts queue. */
export const MAX_STARTING = 2;
/** CPU niceness of a recogniser by default (`LOCAL_ASR_NICE`; the gateway runs at its own, normally 0). */
export const RECOGNISER_NICE = 10;
/** Unwritten audio allowed (in the pipe, or queued before the process starts) before frames are dropped: 10 s at 16 kHz. */
const MAX_PENDING_BYTES = 320000;
/**
 * `pocketsphinx_continuous` reads its input in blocks of 2048 samples (`continuous.c`: `fread(adbuf, 2, 2048, …)`, 128
 * ms) and decodes nothing before a block is complete. So audio is written in pieces that complete the engine's next
 * block instead of one write per 20 ms frame: the engine gets the same bytes at the same moment (the frame that
 * completes a block is written with it), with ~8 writes a second instead of 50, and so ~8 wake-ups of the `cat` and
 * of the engine (each had one per frame). See bench/README.md, per-core section.
 */
export const ENGINE_READ_BYTES = 4096;
/** The batch a call's audio is gathered in before it completes a block (a frame that does not fit is written alone). */
const BATCH_BYTES = 2 * ENGINE_READ_BYTES;
/**
 * What `pocketsphinx_continuous` logs once its model is loaded (`continuous.c`, right after `ps_init`), i.e. the end
 * of the costly start-up.
 */
const READY_MARKER = 'COMPILED ON';
/** A start-up slot is freed after this even if the marker never came (another build of the program). */
const STARTUP_TIMEOUT_MS = 5000;
/** After `close()`, time for the engine to print its last final before it is killed. */
const CLOSE_GRACE_MS = 500;
/**
 * Adaptive endpointing (`ENDPOINTING=adaptive`): on the gateway's end of speech, this much quiet audio is written so
 * the engine's own endpointer (`-vad_postspeech` 50 frames = 500 ms, read in 2048-sample = 128 ms blocks) ends the
 * utterance and prints its final now, instead of waiting for that much real silence to arrive in real time. Pocketsphinx
 * reads faster than real time and drops silence frames before decoding, so the extra audio costs little CPU.
 */
export const FLUSH_PAD_MS = 800;
/** `pocketsphinx_continuous`'s own `-vad_postspeech` (10 ms frames); `LOCAL_ASR_POSTSPEECH_MS` changes it. */
export const ENGINE_POSTSPEECH_FRAMES = 50;

/**
 * The engine's own ½-bit dither, with a fixed seed (the same audio always gives the same transcript). Digital silence
 * (all-zero audio: the simulator's tail, a muted or comfort-noise-less line, the 8 kHz leg's empty upper band) breaks
 * its spectral-subtraction noise estimate (`-remove_noise`): after a faint sound (the flush pad, a breath) zeros kept
 * its VAD in speech for as long as they lasted, so the utterance's final came only when the call hung up, and with a
 * long utterance not at all (killed after {@link CLOSE_GRACE_MS}). Measured through a 16 kHz gateway leg on
 * pocketsphinx-testdata (an4 + cards + librivox): word error rate 77 % without, 40 % with, the CLI itself on the
 * files 37.5 %. Dither is ±1 LSB (about −90 dBFS): no level a recording has, so nothing else changes; it costs the
 * gateway nothing (the engine adds it).
 */
export const DITHER_ARGS: readonly string[] = ['-dither', 'yes', '-seed', '1'];

/**
 * A long quiet stretch before the first speech spoils the engine's first words even with the dither: its noise
 * estimate starts from the quiet, and the speech that follows is decoded against it. `goforward.raw` after 0.5 or 1.0 s
 * of digital silence is "go forward ten meters"; after 1.2–7 s "roar years" (the CLI on the file, and the gateway's
 * 16 kHz leg in the call eval, where the caller speaks after a 6.5 s greeting, as callers do). Between two utterances
 * the same gap does no harm (cards/004, then 2–7 s of silence, then goforward: both right). So the adapter hands the
 * engine at most {@link QUIET_KEEP_FRAMES} of any quiet stretch as it comes, then keeps only the last
 * {@link QUIET_PREROLL_FRAMES} (written before the next sound, so a soft onset is not lost): the engine sees at most
 * 0.8 s of quiet before a sound, and does not decode the rest of a greeting's silence either. Quiet = a frame below
 * {@link QUIET_DBFS} (digital silence, a quiet line; line noise above it is passed on as before).
 * `node dist/bench/asr-replay.js --lead-ms=7000` replays the bench corpus after a greeting-length lead.
 */
export const QUIET_DBFS = -60;
/** Quiet frames passed on as they come: more than the engine's own endpointer needs (`-vad_postspeech`, 500 ms). */
export const QUIET_KEEP_FRAMES = 30;
/** The last quiet frames kept, and written just before the next sound. */
export const QUIET_PREROLL_FRAMES = 10;
const QUIET_RMS = 32768 * 10 ** (QUIET_DBFS / 20);

/**
 * Where the engine's live cepstral mean normalisation starts, per kind of input. It keeps a running mean of the
 * cepstra and subtracts it; the model's `feat.params` starts it at `41.00,-5.29,…`, and over a short answer (an IVR
 * choice is one or two words, a whole call for one process) it has hardly moved from there, so the start *is* the
 * normalisation. Telephone band with the fill has a very different mean (the upper filter-bank channels hold the
 * fill, not speech: c1 alone is 4 to 6 lower), and the recordings a gateway gets are louder than the model's start
 * (c0). Each start is the mean the engine itself reaches (its `cmn_live` "Update to" after the whole file) on held-out
 * recordings, pocketsphinx-testdata's `numbers.raw` and `something.raw` (neither is in `npm run bench:asr`), conditioned
 * as a leg delivers them (0.5 s of silence before, 3 s after): wideband as recorded; telephone band in an 8 kHz and
 * in a 16 kHz leg, filled (the two averaged). Measured with `node dist/bench/asr-replay.js` (telephone band in an 8 kHz
 * leg, fill on): IVR menu answers 27 → 31 of 32 right; word error rate on the bench corpus, wideband 40.6 → 31.3 %,
 * telephone band (8 kHz leg) 66.7 → 58.3 %.
 */
export const CMN_START = {
  wideband: '51.00,-2.61,-4.51,8.07,5.40,-1.54,-4.13,-3.60,-5.84,2.75,-5.56,-0.83,0.71',
  telephone: '48.15,-8.96,-5.55,3.35,2.69,-10.93,-5.52,-10.83,-9.44,-2.66,-9.30,-4.67,-2.61',
} as const;

/**
 * More engine arguments for telephone band (the fill on at launch). `-remove_noise no`: the engine's spectral
 * subtraction takes the fill, a steady noise, for the line's noise and subtracts it, taking back from the upper
 * filter-bank channels what the fill gave them; a filled line is never digital silence (see {@link DITHER_ARGS}), so
 * the estimate is not needed there. Tuned with `node dist/bench/asr-replay.js --set=heldout --way=telephone-8k`
 * (held-out files, not the bench's): word error rate 33.1 → 27.0 % (`-lw 8` 38.2, `-lw 10` 55.6, `-wip 0.2` 33.1);
 * then confirmed on the bench corpus (`--set=corpus`, 8 kHz leg): 46.9 → 42.7 %, and the IVR menu (`--set=menu`)
 * unchanged at 31 of 32.
 *
 * `-bestpathlw 8` (the language weight of the final lattice search, default 9.5): the one decoder setting that did
 * better on the held-out set, and by one word only. Tried on top of `-remove_noise no`, each alone, with
 * `REPLAY_SETTLE_MS=3000 REPLAY_MAX_WAIT_MS=40000 node dist/bench/asr-replay.js --set=heldout --way=telephone-8k
 * --args-to=telephone -- <args>` (178 words; deterministic: the baseline repeated its 48 errors exactly):
 *
 * | setting | held-out WER % (errors) |
 * |---|---|
 * | none (the defaults) | 27.0 (48) |
 * | `-lw 5.5` / `-lw 7.5` | worse on every utterance that decoded (a loaded run) / 34.3 (61) |
 * | `-wip 1.0` | 28.1 (50) |
 * | `-silprob 0.05` · `-fillprob 1e-4` · `-vad_threshold 1.5` | 27.0 (48) each: no change |
 * | `-topn 8` | 28.7 (51) |
 * | `-pl_window 0` | 39 → 39 errors on the 20 utterances it decoded in time (slower; no gain) |
 * | `-beam 1e-60 -wbeam 1e-40 -pbeam 1e-60 -maxhmmpf -1` | 32 → 35 on the 18 it decoded in time (slower, worse) |
 * | `-bestpathlw 7` / `8` / `11` | 27.0 (48) / **26.4 (47)** / 27.5 (49) |
 * | `-fwdflatlw 7.5 -bestpathlw 8` | 26.4 (47): the same as `-bestpathlw 8` alone |
 *
 * On the bench corpus (`--set=corpus`, 8 kHz leg) `-bestpathlw 8` changed no utterance's error count (nine of eleven
 * compared: two long read sentences got no final within the replay's wait on the loaded machine); the IVR menu
 * (`--set=menu`) stayed at 31 of 32 right. The full `npm run bench:asr` with it (bench/results/asr.md, 2026-12-03):
 * every figure as before (telephone band 42.7 % in both legs, wideband 31.3 / 35.4 %, grammar rows, IVR 31 of 32);
 * two cards transcripts changed words, not error counts. So the 16 kHz goal (41.7 %) is still one word away: no
 * decoder weight tried moves the bench corpus, whose telephone errors are mostly the cards set's (18 of 21 words).
 */
// Also tried (2026-12-04) for the decode's CPU, not its words: `-maxwpf 5` / `3` (fewer word exits per frame) keep every
// transcript of the corpus, held-out and menu sets, but change the engine's own work counters (HMM channels searched,
// senones evaluated) by under 1 %; the ±30 % CPU times of single runs on this machine were noise.
// And (2026-12-04, night) on the bench corpus, telephone band in an 8 kHz leg (`node dist/bench/asr-replay.js
// --set=corpus --way=telephone-8k --args-to=telephone -- <args>`, 41 errors of 96 words with these settings): `-alpha
// 0.9` / `0.95` / `0.99` (pre-emphasis) 41 / 42 / 43; `-pip 0.7` / `1.5` 41 / 43; `-uw 0.8`, `-fwdflat no`, `-compallsen
// yes`, `-ds 1` 41 each; `-bestpath no` 46. None helps; see FOLD_GAIN_DB in band-fill.ts for how little 96 words say.
// And (2026-12-05) the language weight and beams on both sets (corpus / held-out errors, 41 / 47 with these settings):
// `-lw 4.5` 46 / 48, `-lw 5.5` 44 / 48, `-lw 8` 55 / 65, `-lw 10` 68 / 94, `-beam 1e-60 -wbeam 1e-40 -pbeam 1e-60` 44 / 48.
// And an MLLR transform of the model for the filled telephone band (`-mllr`; Debian's sphinxtrain `bw` + `mllr_solve`,
// the model's sendump expanded to mixture weights, features by sphinx_fe as this engine computes them) estimated on
// the held-out set as a leg delivers it: the corpus got worse (46 errors; blended halfway to identity 42-43; the
// channel alone, telephone transform composed with the inverse of a wideband one on the same audio, 50). The held-out
// set is 20 Flite utterances and 2 recordings: a transform of the wideband engine estimated on its wideband audio took
// the corpus's wideband from 30 to 37 errors, so it fits Flite's voices, not the line. Real telephone-band recordings
// of real callers (none outside the bench corpus here) are what an adaptation needs.
// And a data-free compensation of the model for the channel (2026-12-05): the same kind of `-mllr` matrix, computed
// instead of estimated: the model's cepstra taken back to its 25 filter-bank channels (lifter and DCT inverted), the
// channels outside 300-3400 Hz set flat (what cepstral mean normalisation makes of a constant fill), the fold's
// channels partly from their mirror images, and forward again; blended with the identity (all of it, 63 errors: the
// means shrink and the classes blur). Blended 0.2 / 0.3 / 0.4 / 0.5 / 0.6: corpus 40 / 39 / 38 / 39 / 42 errors, the
// held-out set 38 / - / 37 / - / 36 (47 without); with 3446 Hz counted in band, held-out 25-27 but corpus 43. The
// corpus's changes go both ways per utterance (cards/005 9 -> 6, librivox 0930 5 -> 1, librivox 0870 8 -> 11) and the
// held-out set is mostly Flite: a gain on synthetic voices, noise on the recorded ones. Not shipped.
export const TELEPHONE_ARGS: readonly string[] = ['-remove_noise', 'no', '-bestpathlw', '8'];

/**
 * The model's `feat.params` with `-cmninit` set to each of {@link CMN_START}, written to a private temporary directory
 * (a command-line `-cmninit` is overridden by the model's file; `-featparams` names another). Undefined when the model
 * has no `feat.params` or the files cannot be written: the engine then runs with the model's own.
 */
function writeFeatParams(modelDir: string): { dir: string; wideband: string; telephone: string } | undefined {
  let text: string;
  try {
    text = readFileSync(join(modelDir, 'feat.params'), 'latin1');
  } catch {
    return undefined;
  }
  if (!/^-cmninit\s/m.test(text)) text += '\n-cmninit 0\n';
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'vgw-pocketsphinx-'));
    const out = { dir, wideband: join(dir, 'wideband.feat.params'), telephone: join(dir, 'telephone.feat.params') };
    for (const kind of ['wideband', 'telephone'] as const) writeFileSync(out[kind], text.replace(/^-cmninit\s.*$/m, `-cmninit ${CMN_START[kind]}`));
    return out;
  } catch {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

/**
 * A recogniser is started detached, so it leads a session of its own, and with the kernel's autogroup scheduling
 * (`CONFIG_SCHED_AUTOGROUP`, on by default in Debian's and Ubuntu's kernels: `/proc/sys/kernel/sched_autogroup_enabled`)
 * every session is a scheduling group that gets the same share of a core as the gateway's whole session, whatever the
 * nice value of the processes in it (that only ranks a recogniser against its own `cat`). Ten recognisers on the
 * gateway's core left its event loop a tenth of the core whenever they all decoded: pacing p99 130–160 ms at 100
 * in-phase legs (bench/README.md, per-core section). So the group gets the niceness as well (`/proc/PID/autogroup`;
 * lowering one's own priority needs no privilege). Without autogroups (the file is absent) the process nice applies.
 */
function niceSessionGroup(pid: number, nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    /* no autogroup scheduling here, or the process is gone */
  }
}

/**
 * A 16 or 24 kHz call judged band-limited (`auto`) is handled as an 8 kHz leg is: its audio goes through an 8 kHz
 * leg's path (16 → 8 → 16 kHz, the same resampler) before the band fill, so the band-pass's leakage above 4 kHz (a
 * codec's or an upsampler's, −20 … −45 dB there) is gone and the fill and the fold land on an empty band as they were
 * measured to; and its engine, started before the band was known, is restarted with the telephone cepstral-mean start
 * ({@link CMN_START}) at the first decision. Together they make the two legs equal: with
 * `node dist/bench/asr-replay.js --way=telephone-16k,telephone-8k`, a 16 kHz leg's transcripts are word for word the
 * 8 kHz leg's. Word error rate of telephone band in a 16 kHz leg, bench corpus (`--set=corpus`: recorded speech):
 * 53.1 % before, 52.1 % with the telephone start alone, 56.3 % with the 8 kHz path alone, 46.9 % with both (= the
 * 8 kHz leg). Held out (`--set=heldout`: two recordings, unchanged at 0 errors, and Flite's voices on five sentences),
 * 29.8 → 33.1 %: a synthetic band-pass leaves Flite's 3.4–5 kHz partly in place, and the engine used it; a real line's
 * 8 kHz codec does not, which is what the 8 kHz path reproduces.
 */
export const NARROW = true;

/** Refusals past the budget are summarised in one log line at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 10000;

function findOnPath(name: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Where the binary is, or undefined if it is not installed (with its model). */
export function findPocketsphinx(pathEnv = process.env.PATH ?? ''): string | undefined {
  if (!existsSync(POCKETSPHINX_MODEL_DIR)) return undefined;
  return findOnPath(POCKETSPHINX_BIN, pathEnv);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How to start one recogniser: the command Node spawns. */
interface Launch {
  file: string;
  args: string[];
}

/** The recogniser behind a real pipe (see the file comment). */
function launchCommand(bin: string, bash: string | undefined, extraArgs: readonly string[]): Launch {
  // No -logfn: the engine logs to stderr (fd 2), watched for the end of start-up, then drained unread.
  const common = ['-samprate', '16000', ...DITHER_ARGS, ...extraArgs];
  // --norc: Node's stdio "pipes" are socketpairs, and bash given a socket on stdin takes itself for an rshd child and
  // reads ~/.bashrc even with -c. A .bashrc that runs `pyenv init` left recognisers waiting forever on a stale rehash
  // lock (no transcript on any call); one that prints would write into the transcript stream.
  if (bash) return { file: bash, args: ['--norc', '--noprofile', '-c', 'exec "$0" "$@" 3< <(exec cat)', bin, '-infile', '/dev/fd/3', ...common] };
  const args = ['-infile', '/dev/stdin', ...common];
  return { file: 'sh', args: ['-c', `cat | exec ${shellQuote(bin)} ${args.map(shellQuote).join(' ')}`] };
}

/** A 16-bit LE frame whose RMS is below {@link QUIET_DBFS}. */
function isQuiet(frame: Buffer): boolean {
  const n = frame.length >> 1;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = frame.readInt16LE(i * 2);
    sum += x * x;
  }
  return sum < QUIET_RMS * QUIET_RMS * n;
}

class PocketsphinxStream implements AsrStream {
  readonly events = new Channel<AsrEvent>(256);
  private child: ChildProcessWithoutNullStreams | undefined;
  private ticket: BudgetTicket | undefined;
  private readonly resampler: StreamResampler | undefined;
  /** Telephone-band conditioning at 16 kHz (`ASR_BAND_FILL`); undefined when off. */
  readonly bandFill: BandFill | undefined;
  /** Audio that arrived while the start waited its turn (16 kHz), written once the process runs. */
  private pending: Buffer[] | undefined = [];
  private pendingBytes = 0;
  private closed = false;
  private exited = false;
  private lineBuf = '';
  private markerTail = '';
  private startupTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** Resolves once the process is gone (or was never started). */
  readonly gone: Promise<void>;
  private markGone!: () => void;
  /** Frames dropped because the engine fell behind (or had not started for 10 s of audio). */
  dropped = 0;
  /** Audio gathered until it completes the engine's next read block (see {@link ENGINE_READ_BYTES}). */
  private batch: Buffer | undefined;
  private batchLen = 0;
  /** Bytes written to the engine so far (where its read blocks end). */
  private writtenBytes = 0;
  /** Writes to the engine's pipe. */
  writes = 0;
  /** The running engine was started with the telephone cepstral-mean start. */
  private launchedTelephone = false;
  /** Engines restarted for a band-limited 16/24 kHz call (0 or 1), for tests. */
  relaunches = 0;
  /** Consecutive quiet leg frames so far (see {@link QUIET_KEEP_FRAMES}). */
  private quietRun = 0;
  /** The last quiet frames of a long quiet stretch (copies, a ring), written before the next sound. */
  private preroll: Buffer[] | undefined;
  private prerollStart = 0;
  private prerollCount = 0;
  /** Quiet frames never handed to the engine (a long quiet stretch's middle), for tests and the bench. */
  quietSkipped = 0;

  constructor(
    /** How to start the engine for wideband input, and for telephone band (the fill on at launch), and its niceness. */
    private readonly launches: { wideband: Launch; telephone: Launch; nice: number; padBytes: number },
    o: AsrStreamOptions,
    bandFill: BandFillMode,
    /** Flush the engine on the gateway's end of speech (adaptive endpointing); off = its own 500 ms endpointing only. */
    private readonly flushOnEndOfSpeech = false,
    /** The band fill adds the folded speech (not under a grammar: see `FOLD_GAIN_DB`). */
    fold = true,
    /** A band-limited 16/24 kHz leg is handled as an 8 kHz leg ({@link NARROW}). */
    private readonly narrow = NARROW,
  ) {
    this.gone = new Promise((r) => (this.markGone = r));
    if (o.call.sampleRateHz !== 16000) this.resampler = new StreamResampler(o.call.sampleRateHz, 16000);
    if (bandFill !== 'off')
      this.bandFill = new BandFill(bandFill, o.call.sampleRateHz, { fold, ...(narrow && o.call.sampleRateHz > 8000 ? { narrow: this.narrowBand } : {}) });
  }

  /** 16 → 8 → 16 kHz, made when the first band-limited audio comes (most 16 kHz calls never need it). */
  private narrowing: { down: StreamResampler; up: StreamResampler } | undefined;

  /** Band-limited 16 kHz audio through an 8 kHz leg's path (see {@link NARROW}); a new buffer. */
  private readonly narrowBand = (pcm: Buffer): Buffer => {
    if (this.closed) return pcm; // the resamplers are gone: the last held audio goes on as it is
    this.narrowing ??= { down: new StreamResampler(16000, 8000), up: new StreamResampler(8000, 16000) };
    const samples = new Int16Array(pcm.length >> 1);
    Buffer.from(samples.buffer).set(pcm.subarray(0, samples.length * 2));
    const out = this.narrowing.up.process(this.narrowing.down.process(samples));
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  };

  private closeResamplers(): void {
    this.resampler?.close();
    this.narrowing?.down.close();
    this.narrowing?.up.close();
  }

  /** Called by the budget when this stream's turn to start comes (possibly before `start` returned). */
  launch(ticket: BudgetTicket): void {
    this.ticket = ticket;
    if (this.closed) return this.released();
    const child = this.spawnEngine();
    if (!child) return;
    const pending = this.pending ?? [];
    this.pending = undefined;
    this.pendingBytes = 0;
    for (const b of pending) this.toEngine(child, b);
  }

  /**
   * Start the engine for the band as known now: an 8 kHz leg (or `on`) is filled from the start and gets the
   * telephone start; a 16/24 kHz leg in `auto` is decided later, so it starts as wideband and is restarted at a
   * "band-limited" first decision ({@link relaunchForTelephone}).
   */
  private spawnEngine(): ChildProcessWithoutNullStreams | undefined {
    const telephone = this.bandFill?.active === true;
    let child: ChildProcessWithoutNullStreams;
    try {
      const spec = telephone ? this.launches.telephone : this.launches.wideband;
      child = spawn(spec.file, spec.args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      this.fail('ASR_SPAWN_FAILED', (err as Error).message);
      this.released();
      return undefined;
    }
    this.child = child;
    this.launchedTelephone = telephone;
    if (child.pid !== undefined) {
      try {
        // The recogniser (and its `cat`, forked a moment later) yields the cores to the gateway's 20 ms loop.
        setPriority(child.pid, this.launches.nice);
      } catch {
        /* exited already: reported through 'exit' */
      }
      niceSessionGroup(child.pid, this.launches.nice);
    }
    // A replaced engine (see relaunchForTelephone) is no longer `this.child`: whatever it still does is ignored.
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (child === this.child) this.onStdout(d);
    });
    child.stderr.on('data', this.onStartupLog);
    child.stdin.on('error', () => {}); // EPIPE when the engine dies: reported through 'exit'
    child.on('error', (err) => {
      if (child.pid !== undefined || child !== this.child) return; // a failed kill of a live process: 'exit' still comes
      this.fail('ASR_SPAWN_FAILED', err.message);
      this.released();
    });
    child.on('exit', (code, sig) => {
      if (child !== this.child) return;
      this.released();
      if (!this.closed) this.fail('ASR_PROCESS_EXITED', `pocketsphinx exited (${code ?? sig})`);
      else {
        this.flushLine();
        this.events.close();
      }
    });
    clearTimeout(this.startupTimer);
    this.startupTimer = setTimeout(() => this.startedUp(), STARTUP_TIMEOUT_MS);
    this.startupTimer.unref();
    return child;
  }

  /**
   * The first decision found a 16/24 kHz call band-limited after its engine was started for wideband: start it again
   * with the telephone cepstral-mean start ({@link NARROW}). Nothing the caller said is lost: until this decision
   * the band fill held it, so the engine being replaced heard at most the line's silence. Same budget slot (the
   * replaced engine is killed first); the second model load is not counted as a start-up (one per call at most).
   */
  private relaunchForTelephone(): void {
    const old = this.child;
    if (!this.narrow || !old || this.launchedTelephone || this.closed || this.exited) return;
    old.stderr.off('data', this.onStartupLog);
    old.stderr.resume();
    this.child = undefined;
    killGroup(old);
    // The new engine reads its blocks from its own first byte; what was gathered for the old one was the line's silence.
    this.batch = undefined;
    this.batchLen = 0;
    this.writtenBytes = 0;
    this.relaunches++;
    this.spawnEngine();
  }

  /** After the band fill handed on held audio: restart the engine if the call was judged band-limited. */
  private afterRelease(): void {
    const bf = this.bandFill;
    if (bf && !bf.holding && bf.active && bf.decisions > 0 && !this.launchedTelephone) this.relaunchForTelephone();
  }

  /** The budget took this stream (it may have launched already). */
  attach(ticket: BudgetTicket): void {
    this.ticket ??= ticket;
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    if (isQuiet(frame)) {
      if (++this.quietRun > QUIET_KEEP_FRAMES) {
        // The engine gets the whole kept stretch now (its endpointer needs 500 ms of it), not when a block completes.
        if (this.quietRun === QUIET_KEEP_FRAMES + 1 && this.child) this.flushBatch(this.child);
        return this.holdQuiet(frame);
      }
    } else {
      this.quietRun = 0;
      if (this.prerollCount > 0) this.writePreroll();
    }
    this.condition(frame);
  }

  /** A quiet frame past {@link QUIET_KEEP_FRAMES}: kept in the pre-roll ring (the oldest one there is skipped). */
  private holdQuiet(frame: Buffer): void {
    const ring = (this.preroll ??= []);
    if (this.prerollCount < QUIET_PREROLL_FRAMES) {
      ring[(this.prerollStart + this.prerollCount++) % QUIET_PREROLL_FRAMES] = Buffer.from(frame);
      return;
    }
    const slot = this.prerollStart;
    this.prerollStart = (slot + 1) % QUIET_PREROLL_FRAMES;
    this.quietSkipped++;
    const old = ring[slot]!;
    if (old.length === frame.length) frame.copy(old);
    else ring[slot] = Buffer.from(frame);
  }

  /** A sound after a long quiet stretch: the stretch's last frames go first (a soft onset starts in them). */
  private writePreroll(): void {
    const ring = this.preroll!;
    const n = this.prerollCount;
    const start = this.prerollStart;
    this.prerollCount = 0;
    // Handed on (a pipe may hold them until it drains): the next quiet stretch gets new buffers.
    this.preroll = undefined;
    this.prerollStart = 0;
    for (let i = 0; i < n; i++) this.condition(ring[(start + i) % QUIET_PREROLL_FRAMES]!);
  }

  /** Resample, condition and send one leg frame (the frame itself is never changed). */
  private condition(frame: Buffer): void {
    let buf = frame;
    if (this.resampler) {
      const samples = new Int16Array(frame.length >> 1);
      Buffer.from(samples.buffer).set(frame.subarray(0, samples.length * 2));
      const out = this.resampler.process(samples);
      buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    if (this.bandFill) {
      // The fill changes audio in place: never the caller's frame, which other stages share.
      const holding = this.bandFill.holding;
      const out = this.bandFill.condition(buf === frame ? Buffer.from(frame) : buf);
      if (!out) return; // held until the band is known
      if (holding) this.afterRelease();
      buf = out;
    }
    this.send(buf, frame);
  }

  private send(buf: Buffer, frame: Buffer | undefined): void {
    const child = this.child;
    if (!child) {
      // Waiting for a start-up slot: keep the audio (bounded) so the first words are not lost.
      if (!this.pending || this.pendingBytes + buf.length > MAX_PENDING_BYTES) {
        this.dropped++;
        return;
      }
      this.pending.push(buf === frame ? Buffer.from(frame) : buf);
      this.pendingBytes += buf.length;
      return;
    }
    if (child.stdin.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.toEngine(child, buf);
  }

  /** Gather `buf` into the batch; write the batch once it completes the engine's next read block. */
  private toEngine(child: ChildProcessWithoutNullStreams, buf: Buffer): void {
    if (this.batchLen + buf.length > BATCH_BYTES) {
      this.flushBatch(child);
      this.writeToEngine(child, buf);
      return;
    }
    // One batch per write: the stream keeps the buffer until the pipe takes it, so a written batch is never reused.
    const batch = (this.batch ??= Buffer.allocUnsafe(BATCH_BYTES));
    buf.copy(batch, this.batchLen);
    this.batchLen += buf.length;
    if ((this.writtenBytes % ENGINE_READ_BYTES) + this.batchLen >= ENGINE_READ_BYTES) this.flushBatch(child);
  }

  /** Write what is gathered now (end of speech, close). */
  private flushBatch(child: ChildProcessWithoutNullStreams): void {
    if (this.batchLen === 0) return;
    const batch = (this.batch as Buffer).subarray(0, this.batchLen);
    this.batch = undefined;
    this.batchLen = 0;
    this.writeToEngine(child, batch);
  }

  private writeToEngine(child: ChildProcessWithoutNullStreams, buf: Buffer): void {
    this.writtenBytes += buf.length;
    this.writes++;
    child.stdin.write(buf);
  }

  /** The gateway's VAD heard the caller stop: with adaptive endpointing, make the engine print its final now. */
  endOfSpeech(): void {
    if (this.closed) return;
    // The band fill still undecided (a short first utterance) decides on what it heard and hands the utterance on, so
    // the engine gets it now (and before the pad that ends it), not when the hold overflows.
    const held = this.bandFill?.flush();
    this.afterRelease();
    if (held) this.send(held, undefined);
    if (!this.flushOnEndOfSpeech) return;
    // The pad is the line's silence as the engine hears it (zeros, with the fill when it is on): a pad that sounded
    // different (faint full-band noise over a filled 8 kHz leg) gave the engine a sound to end on, and a short menu
    // answer a second, false one-word final (`node dist/bench/asr-replay.js`: 18 of 32 IVR answers had one; none since).
    const silence = Buffer.alloc(this.launches.padBytes);
    const pad = this.bandFill?.active ? (this.bandFill.condition(silence) ?? silence) : silence;
    const child = this.child;
    if (!child) {
      if (this.pending && this.pendingBytes + pad.length <= MAX_PENDING_BYTES) {
        this.pending.push(pad);
        this.pendingBytes += pad.length;
      }
      return;
    }
    if (child.stdin.writableLength > MAX_PENDING_BYTES) return; // the engine is far behind: padding would not help
    this.toEngine(child, pad);
    this.flushBatch(child);
  }

  close(): void {
    if (this.closed) return;
    const rest = this.bandFill?.flush();
    if (rest) this.send(rest, undefined);
    this.closed = true;
    this.closeResamplers();
    this.pending = undefined;
    const child = this.child;
    if (!child || this.exited) {
      // Never launched (still queued: this leaves the queue) or already gone: nothing to wait for.
      this.released();
      this.events.close();
      return;
    }
    this.flushBatch(child);
    child.stdin.end();
    // Give the engine a moment to print its last final (the 'exit' handler ends `events`), then make sure it is gone.
    this.killTimer = setTimeout(() => this.kill(), CLOSE_GRACE_MS);
    this.killTimer.unref();
  }

  private kill(): void {
    if (this.child && !this.exited) killGroup(this.child);
  }

  /** The process is gone (or will never exist): free the slot. Idempotent. */
  private released(): void {
    if (this.exited) return;
    this.exited = true;
    clearTimeout(this.startupTimer);
    clearTimeout(this.killTimer);
    this.ticket?.exited();
    this.markGone();
  }

  private startedUp(): void {
    clearTimeout(this.startupTimer);
    this.startupTimer = undefined;
    this.ticket?.started();
    const err = this.child?.stderr;
    if (err) {
      err.off('data', this.onStartupLog);
      err.resume(); // keep draining the engine's log, unread
    }
  }

  /** The engine's log during start-up, watched for the end of model loading. */
  private readonly onStartupLog = (d: Buffer): void => {
    const text = this.markerTail + d.toString('latin1');
    if (text.includes(READY_MARKER)) return this.startedUp();
    this.markerTail = text.slice(-READY_MARKER.length);
  };

  private onStdout(d: string): void {
    this.lineBuf += d;
    if (this.lineBuf.length > 65536) this.lineBuf = this.lineBuf.slice(-65536);
    let nl: number;
    while ((nl = this.lineBuf.indexOf('\n')) >= 0) {
      const line = this.lineBuf.slice(0, nl).trim();
      this.lineBuf = this.lineBuf.slice(nl + 1);
      if (line) this.events.push({ type: 'final', text: line });
    }
  }

  private flushLine(): void {
    const line = this.lineBuf.trim();
    this.lineBuf = '';
    if (line) this.events.push({ type: 'final', text: line });
  }

  private fail(code: string, message: string): void {
    if (this.closed) return;
    this.events.push({ type: 'error', code, message, recoverable: false });
    this.closed = true;
    this.closeResamplers();
    this.pending = undefined;
    this.events.close();
    if (!this.exited) this.kill();
  }
}

/** Kill an engine and its helpers: the whole group (the recogniser and its `cat`, and `sh`). */
function killGroup(child: ChildProcessWithoutNullStreams): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * Refusals past the budget, logged without flooding: the first one at once, then one summary line (with the count) at
 * most every `intervalMs` while they continue. The `refused` fields of the lines add up to every refusal.
 */
class RefusalLog {
  private timer: NodeJS.Timeout | undefined;
  private unlogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly budget: ProcessBudget,
    private readonly intervalMs: number,
  ) {}

  note(): void {
    if (this.timer) {
      this.unlogged++;
      return;
    }
    this.log.warn(
      { code: 'ASR_OVER_BUDGET', refused: 1, total: this.budget.stats.overBudget, maxProcesses: this.budget.maxProcesses },
      `local ASR over budget: ${this.budget.maxProcesses} recognisers running (LOCAL_ASR_MAX_PROCESSES), a call goes on without ASR; further refusals are counted and summarised every ${Math.round(this.intervalMs / 1000)} s`,
    );
    this.arm();
  }

  /** Write what is not yet logged and stop. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.unlogged === 0) return; // the spell is over: the next refusal is logged at once
      this.flush();
      this.arm();
    }, this.intervalMs);
    this.timer.unref();
  }

  private flush(): void {
    if (this.unlogged === 0) return;
    const n = this.unlogged;
    this.unlogged = 0;
    this.log.warn(
      { code: 'ASR_OVER_BUDGET', refused: n, total: this.budget.stats.overBudget, maxProcesses: this.budget.maxProcesses },
      `local ASR over budget: ${n} more calls went on without ASR`,
    );
  }
}

/** The `local` adapter: an {@link AsrAdapter} with its recogniser budget's counters. */
export interface PocketsphinxAsr extends AsrAdapter {
  /** Live counters (read at scrape time): recognisers running, starts queued, calls refused. */
  readonly stats: Readonly<ProcessBudgetStats>;
  /** `close()` kills what is left and resolves once every recogniser is gone. */
  close(): Promise<void>;
}

export interface PocketsphinxOptions {
  /** Recognisers at once (default `config.localAsrMaxProcesses`). */
  maxProcesses?: number;
  /** Recognisers loading their model at once (default {@link MAX_STARTING}). */
  maxStarting?: number;
  /** Least time between two refusal log lines (default 10 s). */
  refusalLogIntervalMs?: number;
  /** Telephone-band conditioning (default `config.asrBandFill`, see `band-fill.ts`). */
  bandFill?: BandFillMode;
  /** Use the `sh` + `cat` pipeline even when bash is there (tests). */
  noBash?: boolean;
  /** A band-limited 16/24 kHz leg handled as an 8 kHz leg (default {@link NARROW}; the replay compares). */
  narrow?: boolean;
  /** More `pocketsphinx_continuous` arguments, after the adapter's own (the bench's tuning replay, `bench/asr-replay.ts`). */
  engineArgs?: readonly string[];
  /** More arguments for the telephone-band engine only, after {@link TELEPHONE_ARGS} (the replay's `--args-to=telephone`). */
  telephoneArgs?: readonly string[];
}

/** The `local` ASR adapter. Throws if pocketsphinx is not installed. */
export function createPocketsphinxAsr(ctx: AdapterContext, opts: PocketsphinxOptions = {}): PocketsphinxAsr {
  const pathEnv = ctx.env.PATH ?? process.env.PATH ?? '';
  const bin = findPocketsphinx(pathEnv);
  if (!bin) throw new Error(`${POCKETSPHINX_BIN} or its model (${POCKETSPHINX_MODEL_DIR}) not found: apt-get install pocketsphinx pocketsphinx-en-us`);
  const extra: string[] = [];
  if (ctx.sections.asr.asrGrammar) extra.push('-jsgf', ctx.sections.asr.asrGrammar);
  else if (ctx.sections.asr.asrKeyphrases) extra.push('-kws', ctx.sections.asr.asrKeyphrases);
  // The engine's own default is 50 frames (500 ms): the argument is given only when the setting differs.
  const postspeech = Math.round(ctx.sections.asr.localAsrPostspeechMs / 10);
  if (postspeech !== ENGINE_POSTSPEECH_FRAMES) extra.push('-vad_postspeech', String(postspeech));
  if (opts.engineArgs) extra.push(...opts.engineArgs);
  const bash = opts.noBash ? undefined : findOnPath('bash', pathEnv);
  const featParams = writeFeatParams(POCKETSPHINX_MODEL_DIR);
  const launches = {
    wideband: launchCommand(bin, bash, [...(featParams ? ['-featparams', featParams.wideband] : []), ...extra]),
    telephone: launchCommand(bin, bash, [
      ...(featParams ? ['-featparams', featParams.telephone] : []),
      ...TELEPHONE_ARGS,
      ...(opts.telephoneArgs ?? []),
      ...extra,
    ]),
    nice: ctx.sections.asr.localAsrNice,
    // The pad must hold more quiet than the engine's endpointer waits for.
    padBytes: 32 * Math.max(FLUSH_PAD_MS, ctx.sections.asr.localAsrPostspeechMs + 300),
  };
  const bandFill = opts.bandFill ?? ctx.sections.asr.asrBandFill;
  const budget = new ProcessBudget(opts.maxProcesses ?? ctx.sections.asr.localAsrMaxProcesses, opts.maxStarting ?? MAX_STARTING);
  const refusals = new RefusalLog(ctx.logger, budget, opts.refusalLogIntervalMs ?? REFUSAL_LOG_INTERVAL_MS);
  const live = new Set<PocketsphinxStream>();
  return {
    name: 'pocketsphinx',
    capabilities: { interim: false, sampleRatesHz: [16000] },
    stats: budget.stats,
    async start(o) {
      if (o.signal.aborted) throw new AdapterError('ASR_ABORTED', 'the call ended before its ASR started');
      const s = new PocketsphinxStream(
        launches,
        o,
        bandFill,
        ctx.sections.turn.endpointing === 'adaptive',
        !ctx.sections.asr.asrGrammar && !ctx.sections.asr.asrKeyphrases,
        opts.narrow ?? NARROW,
      );
      const ticket = budget.reserve((t) => s.launch(t));
      if (!ticket) {
        s.close(); // never launched: frees its resampler
        refusals.note();
        throw new AdapterError(
          'ASR_OVER_BUDGET',
          `local ASR over budget (${budget.maxProcesses} recognisers, LOCAL_ASR_MAX_PROCESSES): this call goes on without ASR`,
          { recoverable: false },
        );
      }
      s.attach(ticket);
      live.add(s);
      void s.gone.then(() => live.delete(s));
      o.signal.addEventListener('abort', () => s.close(), { once: true });
      return s;
    },
    async close() {
      refusals.close();
      const waits = [...live].map((s) => {
        s.close();
        return s.gone;
      });
      await Promise.all(waits);
      if (featParams) rmSync(featParams.dir, { recursive: true, force: true });
    },
  };
}
