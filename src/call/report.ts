/**
 * What one call reports about itself: reply and turn-latency log lines and metrics as they happen, the bounded lists
 * kept for its summary, and the per-call counters folded into the process metrics when it ends.
 */
import type { JitterBuffer } from '../ingress/jitter-buffer.js';
import type { Pacer } from '../egress/pacer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallSummary } from './session-types.js';

/** Replies and turn latencies kept per call for its summary (later ones are only logged). */
const MAX_KEPT = 32;

export class CallReport {
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly turnLatenciesMs: number[] = [];
  private readonly replies: CallSummary['replies'] = [];

  constructor(metrics: Metrics, log: Logger) {
    this.metrics = metrics;
    this.log = log;
  }

  /** A reply's first frame went out; returns the turn latency rounded to ms when it closed a caller's turn. */
  replyStarted(id: number, turnLatencyMs: number | undefined): number | undefined {
    if (turnLatencyMs === undefined) return undefined;
    const ms = Math.round(turnLatencyMs);
    this.metrics.turnLatency.observe(turnLatencyMs / 1000);
    if (this.turnLatenciesMs.length < MAX_KEPT) this.turnLatenciesMs.push(ms);
    this.log.info({ replyId: id, turnLatencyMs: ms }, 'reply started');
    return ms;
  }

  replyDone(id: number, heard: number, frames: number, interrupted: boolean): void {
    if (this.replies.length < MAX_KEPT) this.replies.push({ id, frames, heardFrames: heard, interrupted });
    this.log.info({ replyId: id, heardMs: heard * 20, totalMs: frames * 20, interrupted }, interrupted ? 'reply interrupted' : 'reply played');
  }

  summary(callId: string, durationMs: number, jb: JitterBuffer, pacer: Pacer, bargeIns: number, code: number, reason: string): CallSummary {
    return {
      callId,
      durationMs: Math.round(durationMs),
      closeCode: code,
      closeReason: reason,
      framesIn: jb.stats.framesIn,
      framesOut: pacer.stats.framesSent,
      jitter: { ...jb.stats },
      pacer: { ...pacer.stats },
      turnLatenciesMs: [...this.turnLatenciesMs],
      bargeIns,
      replies: [...this.replies],
    };
  }

  /** The call ended: fold its counters into the process metrics and log its summary. */
  ended(summary: CallSummary, adapterFaults: number): void {
    const { jitter: s, pacer: p } = summary;
    const { hot } = this.metrics;
    hot.jitterUnderruns += s.underruns;
    hot.jitterOverruns += s.overruns;
    hot.jitterLateFrames += s.lateFrames;
    hot.pacerLateSends += p.lateSends;
    hot.pacerDroppedBackpressure += p.framesDroppedBackpressure;
    hot.pacerRejectedFull += p.framesRejectedFull;
    this.metrics.callJitter.observe(s.jitterMs);
    this.metrics.callDuration.observe(summary.durationMs / 1000);
    this.log.info({ summary: { ...summary, replies: summary.replies.length, adapterFaults } }, 'call ended');
  }
}
