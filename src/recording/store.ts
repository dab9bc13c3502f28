/**
 * Call recordings of one gateway process (`RECORDING_DIR`): names files safely after the call uuid, opens them off the
 * hot path, writes the metadata JSON beside each WAV when the call ends, and lets shutdown wait until every file is
 * complete. One store per gateway (a factory's object, never a global).
 *
 * Files: `<uuid>.wav` (stereo, caller left, bot right, 16-bit at the leg rate) and `<uuid>.json`. The uuid comes from
 * the network, so it is reduced to `[A-Za-z0-9_-]` (everything else becomes `_`, at most 100 characters) and the
 * file is created exclusively (`wx`): a repeated uuid gets `-2`, `-3`… (or a random suffix once many are taken), and
 * nothing outside the directory or already there is ever written.
 */
import { mkdir, open as fsOpen, writeFile, rename } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve, dirname } from 'node:path';
import type { CallInfo } from '../call/call-info.js';
import type { Logger } from '../observability/logger.js';
import { CallRecorder, type RecorderOptions } from './recorder.js';
import type { RecordingIo } from './block-writer.js';

/** Process-wide recording counters (for metrics: read at scrape time). */
export interface RecordingStoreStats {
  /** Recordings open now. */
  active: number;
  started: number;
  completed: number;
  /** Files that could not be opened or written. */
  failed: number;
  /** Audio bytes dropped (disk behind, or frames outside the window), summed over ended recordings. */
  bytesDropped: number;
  /** Blocks dropped because the write queue was full, summed over ended recordings. */
  blocksDropped: number;
}

/** What the recording's metadata JSON holds. */
export interface RecordingMetadata {
  uuid: string;
  conversationUuid: string | null;
  from: string | null;
  to: string | null;
  sampleRateHz: number;
  channels: { left: 'caller'; right: 'bot' };
  file: string;
  start: string;
  end: string;
  durationMs: number;
  closeCode: number;
  closeReason: string;
  framesWritten: { caller: number; bot: number };
  framesDropped: number;
  blocksDropped: number;
  bytesDropped: number;
  dataBytes: number;
  error: string | null;
}

const MAX_NAME = 100;
/** Taken `-n` names tried in a row before a random suffix. */
export const SEQUENTIAL_PROBES = 64;
const RANDOM_PROBES = 8;
/** Names whose next suffix is remembered (least recently used forgotten first). */
const MAX_SUFFIX_HINTS = 1024;

/** A file name derived from a network-supplied uuid that cannot leave the directory. */
export function safeRecordingName(uuid: string): string {
  const s = uuid.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, MAX_NAME);
  return s.replace(/_/g, '') ? s : 'call';
}

export interface RecordingStoreOptions {
  dir: string;
  logger: Logger;
  /** Recorder tuning and file I/O (tests). */
  recorder?: Partial<Omit<RecorderOptions, 'sampleRateHz' | 'frameBytes'>>;
  io?: RecordingIo;
}

export class RecordingStore {
  readonly dir: string;
  readonly stats: RecordingStoreStats = { active: 0, started: 0, completed: 0, failed: 0, bytesDropped: 0, blocksDropped: 0 };
  private readonly log: Logger;
  private readonly opts: RecordingStoreOptions;
  private readonly pending = new Set<Promise<void>>();
  private readonly live = new Set<CallRecording>();
  /** Per name, the next `-n` suffix to try (the names most recently used; bounded). */
  private readonly nextSuffix = new Map<string, number>();

  constructor(opts: RecordingStoreOptions) {
    this.opts = opts;
    this.dir = resolve(opts.dir);
    this.log = opts.logger;
  }

  /** Create the directory (once, at start-up). */
  init(): Promise<void> {
    return new Promise((res, rej) => mkdir(this.dir, { recursive: true }, (err) => (err ? rej(err) : res())));
  }

  /** A recording for one call (nothing opened until {@link CallRecording.start}). */
  create(info: CallInfo, frameBytes: number, log: Logger): CallRecording {
    const rec = new CallRecorder({ ...this.opts.recorder, io: this.opts.io, sampleRateHz: info.sampleRateHz, frameBytes });
    return new CallRecording(this, rec, info, log);
  }

  /** Recordings being written (open or finishing). */
  get open(): number {
    return this.live.size;
  }

  /** Resolves when every recording started so far is complete on disk. */
  async whenIdle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** @internal */
  track(r: CallRecording, p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => {
      this.pending.delete(p);
      this.live.delete(r);
    });
  }

  /** @internal */
  began(r: CallRecording): void {
    this.live.add(r);
    this.stats.started++;
    this.stats.active++;
  }

  /** @internal */
  ended(rec: CallRecorder, ok: boolean): void {
    this.stats.active--;
    if (ok) this.stats.completed++;
    else this.stats.failed++;
    this.stats.bytesDropped += rec.stats.bytesDropped;
    this.stats.blocksDropped += rec.stats.blocksDropped;
  }

  /**
   * Open `<name>.wav` exclusively: `<name>`, then `-2`, `-3`… from the last suffix this store used for the name (so
   * the n-th repeat costs one open, not n); after {@link SEQUENTIAL_PROBES} taken names in a row (a directory filled by
   * an earlier process) a random suffix. Unbounded: a repeated uuid always gets a new file, never an old one's.
   */
  openUnique(name: string, cb: (err: Error | null, fd: number, base: string) => void): void {
    this.tryOpen(name, this.nextSuffix.get(name) ?? 1, 0, cb);
  }

  private tryOpen(name: string, n: number, attempt: number, cb: (err: Error | null, fd: number, base: string) => void): void {
    const sequential = attempt < SEQUENTIAL_PROBES;
    const base = !sequential ? `${name}-${randomBytes(6).toString('hex')}` : n === 1 ? name : `${name}-${n}`;
    const path = join(this.dir, `${base}.wav`);
    if (dirname(resolve(path)) !== this.dir) return cb(new Error('recording path escapes its directory'), -1, base);
    fsOpen(path, 'wx', 0o640, (err, fd) => {
      // Random names collide only by a 48-bit accident: a few tries, then the error is real (a full directory).
      if (err && err.code === 'EEXIST' && attempt < SEQUENTIAL_PROBES + RANDOM_PROBES) return this.tryOpen(name, n + 1, attempt + 1, cb);
      if (!err && sequential) this.rememberSuffix(name, n + 1);
      cb(err, fd, base);
    });
  }

  private rememberSuffix(name: string, next: number): void {
    this.nextSuffix.delete(name);
    if (this.nextSuffix.size >= MAX_SUFFIX_HINTS) this.nextSuffix.delete(this.nextSuffix.keys().next().value as string);
    this.nextSuffix.set(name, next);
  }

  get logger(): Logger {
    return this.log;
  }
}

/** The session's handle on its recording: frames in, frames out, ticks, and one end. */
export class CallRecording {
  private readonly store: RecordingStore;
  readonly recorder: CallRecorder;
  private readonly info: CallInfo;
  private readonly log: Logger;
  private base: string | undefined;
  private startedAt = 0;
  private done: Promise<void> | undefined;
  private openError: Error | undefined;

  constructor(store: RecordingStore, recorder: CallRecorder, info: CallInfo, log: Logger) {
    this.store = store;
    this.recorder = recorder;
    this.info = info;
    this.log = log;
  }

  /** Open the file (asynchronously; frames accumulate meanwhile). */
  start(): void {
    if (this.startedAt) return;
    this.startedAt = Date.now();
    this.store.began(this);
    this.store.openUnique(safeRecordingName(this.info.callId), (err, fd, base) => {
      this.base = base;
      if (err) {
        this.openError = err;
        this.log.error({ err: { message: err.message }, dir: this.store.dir }, 'recording could not be opened');
        this.recorder.writer.abandon(err);
        return;
      }
      // Attached even if the call has already ended: what was accumulated is still written.
      this.recorder.writer.attach(fd);
      this.log.info({ file: `${base}.wav` }, 'recording started');
    });
  }

  pushIn(frame: Buffer): void {
    this.recorder.pushIn(frame);
  }

  pushOut(frame: Buffer): void {
    this.recorder.pushOut(frame);
  }

  tick(periods: number): void {
    this.recorder.tick(periods);
  }

  /** Complete the WAV, then write its metadata. Idempotent; the store waits for it at shutdown. */
  end(closeCode: number, closeReason: string): Promise<void> {
    if (this.done) return this.done;
    if (!this.startedAt) return (this.done = Promise.resolve());
    const endedAt = Date.now();
    this.done = this.recorder.end().then(() => this.writeMetadata(endedAt, closeCode, closeReason));
    this.store.track(this, this.done);
    return this.done;
  }

  private writeMetadata(endedAt: number, closeCode: number, closeReason: string): Promise<void> {
    const r = this.recorder;
    const w = r.writer;
    const err = this.openError ?? w.error;
    this.store.ended(r, !err);
    const rate = this.info.sampleRateHz;
    const meta: RecordingMetadata = {
      uuid: this.info.callId,
      conversationUuid: this.info.conversationUuid ?? null,
      from: this.info.from ?? null,
      to: this.info.to ?? null,
      sampleRateHz: rate,
      channels: { left: 'caller', right: 'bot' },
      file: `${this.base}.wav`,
      start: new Date(this.startedAt).toISOString(),
      end: new Date(endedAt).toISOString(),
      durationMs: Math.round((w.dataBytes / 4 / rate) * 1000),
      closeCode,
      closeReason,
      framesWritten: { caller: r.stats.framesIn, bot: r.stats.framesOut },
      framesDropped: r.stats.framesDropped,
      blocksDropped: r.stats.blocksDropped,
      bytesDropped: r.stats.bytesDropped,
      dataBytes: w.dataBytes,
      error: err ? err.message : null,
    };
    if (this.openError || this.base === undefined) return Promise.resolve();
    const path = join(this.store.dir, `${this.base}.json`);
    const tmp = `${path}.tmp`;
    return new Promise<void>((res) => {
      // Written aside and renamed, so a reader never sees half a JSON file.
      writeFile(tmp, JSON.stringify(meta, null, 2) + '\n', { flag: 'w', mode: 0o640 }, (e1) => {
        if (e1) {
          this.log.error({ err: { message: e1.message } }, 'recording metadata not written');
          return res();
        }
        rename(tmp, path, (e2) => {
          if (e2) this.log.error({ err: { message: e2.message } }, 'recording metadata not renamed');
          this.log.info(
            { file: `${this.base}.wav`, durationMs: meta.durationMs, framesDropped: meta.framesDropped, blocksDropped: meta.blocksDropped },
            'recording complete',
          );
          res();
        });
      });
    });
  }
}
