/**
 * One call's speech recognition, owned by the call session: starts the adapter's stream, hands it the frames that
 * arrived while it was starting (a bounded backlog; drops counted and logged), feeds it every frame, and turns its
 * events into metrics, log lines and transcripts for the session. Per frame it does only the `write`.
 *
 * Every call into the adapter is guarded ({@link AdapterBoundary}): `start` rejecting, or `write`, `endOfSpeech` or the
 * `events` iterator throwing, is counted (`gateway_adapter_faults_total{kind="asr"}`), logged once, and the call goes
 * on without ASR (the stream is closed and never called again). A throw can therefore never reach the 20 ms tick or,
 * with `JITTER_TARGET_MS=0`, the socket's message handler.
 */
import { AdapterError } from '../errors.js';
import type { AsrAdapter, AsrStream } from '../asr/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';
import type { AdapterBoundary } from './boundary.js';
import type { CallInfo } from './call-info.js';
import type { TimingSink } from './observer.js';

/** Frames kept while the ASR starts (1 s); later ones are dropped and counted. */
const MAX_BACKLOG_FRAMES = 50;

export interface AsrFeedOwner extends TimingSink {
  /** A transcript, in order. Not called after `close()`. */
  onTranscript(text: string, final: boolean): void;
  /** Arrival of the caller's last voiced frame (−1: none yet), to measure final-transcript latency. */
  readonly lastVoicedAtMs: number;
}

export interface AsrFeedDeps {
  adapter: AsrAdapter;
  call: CallInfo;
  /** The call's signal: the stream ends with the call. */
  signal: AbortSignal;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  boundary: AdapterBoundary;
}

export class AsrFeed {
  private readonly d: AsrFeedDeps;
  private readonly owner: AsrFeedOwner;
  private stream: AsrStream | undefined;
  private backlog: Buffer[] | undefined = [];
  /** Frames dropped because the stream had not started and the backlog was full. */
  private backlogDropped = 0;
  /** The adapter now serving the call (changes on a fallback chain's failover), for metric labels. */
  private name: string;
  private closed = false;
  /** The stream threw: it is closed and the call goes on without ASR. */
  private failed = false;

  constructor(deps: AsrFeedDeps, owner: AsrFeedOwner) {
    this.d = deps;
    this.owner = owner;
    this.name = deps.adapter.name.split('>')[0]!;
  }

  /** True once the stream failed (the call goes on without ASR). */
  get isFailed(): boolean {
    return this.failed;
  }

  /** Open the stream; failures are counted and logged and the call goes on without ASR. */
  start(): void {
    const { adapter, call, signal } = this.d;
    Promise.resolve()
      .then(() => adapter.start({ call, signal }))
      .then((stream) => {
        if (!stream || typeof stream !== 'object' || typeof stream.write !== 'function' || stream.events == null) {
          throw new AdapterError('ASR_START_FAILED', 'start() did not return a stream (write, events, close)');
        }
        if (this.closed) return this.closeStream(stream);
        this.stream = stream;
        if (this.backlogDropped) this.d.log.warn({ adapter: this.name, droppedFrames: this.backlogDropped }, 'asr started late: early audio dropped');
        const backlog = this.backlog ?? [];
        this.backlog = undefined;
        this.d.log.debug({ adapter: this.name, backlogFrames: backlog.length }, 'asr started');
        for (const f of backlog) this.write(f, this.d.clock.now());
        if (this.stream) void this.run(stream);
      })
      .catch((err) => {
        this.backlog = undefined;
        // A refusal by a resource budget (the offline recognisers' LOCAL_ASR_MAX_PROCESSES) is not a fault of the
        // adapter: it counts and logs its refusals itself (once, then summaries), so a burst writes no line per call.
        if ((err as { code?: unknown } | null)?.code === 'ASR_OVER_BUDGET') {
          this.d.metrics.adapterErrors.inc({ stage: 'asr', code: 'ASR_OVER_BUDGET' });
          this.d.log.debug('asr refused by its budget: this call goes on without ASR');
          return;
        }
        this.d.boundary.fault('asr', 'start', err, 'ASR_START_FAILED', true);
      });
  }

  /** One 20 ms frame (hot path). */
  write(frame: Buffer, receivedAtMs: number): void {
    const s = this.stream;
    if (s) {
      try {
        s.write(frame, receivedAtMs);
      } catch (err) {
        this.fail('write', err, 'ASR_WRITE_FAILED');
      }
    } else if (this.backlog) {
      if (this.backlog.length < MAX_BACKLOG_FRAMES) this.backlog.push(frame);
      else this.backlogDropped++;
    }
  }

  /** VAD: the caller stopped speaking. */
  endOfSpeech(): void {
    const s = this.stream;
    if (!s?.endOfSpeech) return;
    try {
      s.endOfSpeech();
    } catch (err) {
      this.fail('endOfSpeech', err, 'ASR_END_OF_SPEECH_FAILED');
    }
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = undefined;
    const s = this.stream;
    this.stream = undefined;
    if (s) this.closeStream(s);
  }

  /** The stream threw: count and log (once), close it, and go on without ASR. */
  private fail(point: string, err: unknown, code: string): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.d.boundary.fault('asr', point, err, code, false);
    this.d.log.warn({ adapter: this.name }, 'asr stream failed: the call goes on without ASR');
    const s = this.stream;
    this.stream = undefined;
    this.backlog = undefined;
    if (s) this.closeStream(s);
  }

  private closeStream(s: AsrStream): void {
    try {
      s.close();
    } catch (err) {
      this.d.boundary.fault('asr', 'close', err, 'ASR_CLOSE_FAILED', true);
    }
  }

  private async run(stream: AsrStream): Promise<void> {
    const { metrics, log, clock } = this.d;
    try {
      for await (const e of stream.events) {
        if (this.closed || this.stream !== stream) break;
        switch (e.type) {
          case 'error':
            metrics.adapterErrors.inc({ stage: 'asr', code: e.code });
            log.warn({ code: e.code, recoverable: e.recoverable }, `asr error: ${e.message}`);
            break;
          case 'restart':
            metrics.asrRestarts.inc({ adapter: this.name });
            log.info({ adapter: this.name, reason: e.reason, replayedMs: e.replayedMs }, 'asr stream restarted');
            break;
          case 'failover':
            metrics.asrFailovers.inc({ from: e.from, to: e.to });
            log.warn({ from: e.from, to: e.to, reason: e.reason, replayedMs: e.replayedMs }, 'asr failover');
            this.name = e.to;
            break;
          case 'final': {
            const voicedAt = this.owner.lastVoicedAtMs;
            if (voicedAt >= 0) {
              const now = Math.max(voicedAt, clock.now());
              metrics.asrFinalLatency.observe({ adapter: this.name }, (now - voicedAt) / 1000);
              this.owner.onTiming?.('asr-final', voicedAt, now);
            }
            log.info({ text: e.text }, 'transcript');
            this.owner.onTranscript(e.text, true);
            break;
          }
          case 'interim':
            this.owner.onTranscript(e.text, false);
            break;
        }
      }
    } catch (err) {
      if (!this.closed && this.stream === stream) this.fail('events', err, 'ASR_STREAM_FAILED');
    }
  }
}
