/**
 * Every Prometheus metric the gateway exports, defined in this one file, on a registry owned by the app (no global
 * registry, so two gateways in one process, as in tests, never collide).
 *
 * Hot-path counts (frames in/out, …) are plain numbers in {@link HotCounters}, bumped with `++` on the frame path and
 * copied into Prometheus counters only when /metrics is scraped.
 */
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';

/** Plain counters the per-frame code bumps; read at scrape time. */
export class HotCounters {
  framesIn = 0;
  framesOut = 0;
  framesReassembled = 0;
  framesMalformed = 0;
  jitterUnderruns = 0;
  jitterOverruns = 0;
  jitterLateFrames = 0;
  pacerLateSends = 0;
  pacerDroppedBackpressure = 0;
  pacerRejectedFull = 0;
  tickerLateTicks = 0;
}

/** Per-call counters a live call exposes for scrapes. */
export interface LiveCallStats {
  jitter: { underruns: number; overruns: number; lateFrames: number };
  pacer: { lateSends: number; framesDroppedBackpressure: number; framesRejectedFull: number };
}

const LATENCY_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly hot = new HotCounters();
  /** Live sources sampled at scrape time (set by the app). */
  tickerLateTicks: () => number = () => 0;
  /** Sum of a per-call counter over the live calls (set by the app; closed calls are already in {@link hot}). */
  sumLive: (pick: (s: LiveCallStats) => number) => number = () => 0;

  readonly activeCalls: Gauge;
  readonly legsAccepted: Counter;
  readonly legsRefused: Counter<'reason'>;
  readonly legsClosed: Counter<'code'>;
  readonly webhookEvents: Counter<'status'>;
  readonly webhookRequests: Counter<'hook' | 'code'>;
  readonly legEvents: Counter<'event'>;
  readonly bargeIns: Counter;
  readonly adapterErrors: Counter<'stage' | 'code'>;
  readonly turnLatency: Histogram;
  readonly asrFinalLatency: Histogram<'adapter'>;
  readonly asrRestarts: Counter<'adapter'>;
  readonly asrFailovers: Counter<'from' | 'to'>;
  readonly botFirstTextLatency: Histogram;
  readonly ttsFirstAudioLatency: Histogram;
  readonly callJitter: Summary;
  readonly callDuration: Histogram;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_process_' });
    const hot = this.hot;
    const fromHot = (name: string, help: string, read: () => number) => {
      let reported = 0;
      return new Counter({
        name, help, registers,
        collect() {
          const v = read();
          if (v > reported) this.inc(v - reported);
          reported = v;
        },
      });
    };
    fromHot('gateway_frames_in_total', 'Audio frames received from Vonage (after re-framing)', () => hot.framesIn);
    fromHot('gateway_frames_out_total', 'Audio frames sent to Vonage', () => hot.framesOut);
    fromHot('gateway_frames_reassembled_total', 'Inbound messages that were not exactly one frame and were re-framed', () => hot.framesReassembled);
    fromHot('gateway_frames_malformed_total', 'Inbound binary messages refused (not whole samples, absurd size)', () => hot.framesMalformed);
    fromHot('gateway_jitter_underruns_total', 'Jitter buffer starvation episodes', () => hot.jitterUnderruns + this.sumLive((s) => s.jitter.underruns));
    fromHot('gateway_jitter_overruns_total', 'Frames dropped (oldest first) because a jitter buffer was full', () => hot.jitterOverruns + this.sumLive((s) => s.jitter.overruns));
    fromHot('gateway_jitter_late_frames_total', 'Frames that arrived after their playout slot', () => hot.jitterLateFrames + this.sumLive((s) => s.jitter.lateFrames));
    fromHot('gateway_pacer_late_sends_total', 'Pacer ticks that had to catch up more than one frame', () => hot.pacerLateSends + this.sumLive((s) => s.pacer.lateSends));
    fromHot('gateway_pacer_dropped_frames_total', 'Outbound frames dropped: socket buffer past the watermark', () => hot.pacerDroppedBackpressure + this.sumLive((s) => s.pacer.framesDroppedBackpressure));
    fromHot('gateway_pacer_rejected_frames_total', 'Outbound frames refused: pacer queue full', () => hot.pacerRejectedFull + this.sumLive((s) => s.pacer.framesRejectedFull));
    fromHot('gateway_ticker_late_ticks_total', 'Shared 20 ms clock ticks that fired more than 10 ms late', () => this.tickerLateTicks());

    this.activeCalls = new Gauge({ name: 'gateway_active_calls', help: 'Vonage legs currently connected', registers });
    this.legsAccepted = new Counter({ name: 'gateway_legs_accepted_total', help: 'WebSocket legs that completed the handshake', registers });
    this.legsRefused = new Counter({ name: 'gateway_legs_refused_total', help: 'WebSocket legs refused, by reason', labelNames: ['reason'], registers });
    this.legsClosed = new Counter({ name: 'gateway_legs_closed_total', help: 'WebSocket legs closed, by close code', labelNames: ['code'], registers });
    this.webhookEvents = new Counter({ name: 'gateway_webhook_events_total', help: 'Event webhooks received, by status (or event type)', labelNames: ['status'], registers });
    this.webhookRequests = new Counter({ name: 'gateway_webhook_requests_total', help: 'Webhook requests, by hook and HTTP status', labelNames: ['hook', 'code'], registers });
    this.legEvents = new Counter({ name: 'gateway_leg_events_total', help: 'Text events received on legs, by event', labelNames: ['event'], registers });
    this.bargeIns = new Counter({ name: 'gateway_barge_ins_total', help: 'Bot playback interrupted by caller speech', registers });
    this.adapterErrors = new Counter({ name: 'gateway_adapter_errors_total', help: 'Adapter error events, by stage and code', labelNames: ['stage', 'code'], registers });
    const h = (name: string, help: string) => new Histogram({ name, help, buckets: LATENCY_BUCKETS_S, registers });
    this.turnLatency = h('gateway_turn_latency_seconds', "End of the caller's speech (VAD) to the first reply frame sent");
    this.asrFinalLatency = new Histogram({ name: 'gateway_asr_final_latency_seconds', help: 'End of speech (VAD) to the ASR final transcript, by adapter', labelNames: ['adapter'], buckets: LATENCY_BUCKETS_S, registers });
    this.asrRestarts = new Counter({ name: 'gateway_asr_restarts_total', help: 'ASR provider streams replaced inside a call (rotation before a duration cap, reconnect after an error), by adapter', labelNames: ['adapter'], registers });
    this.asrFailovers = new Counter({ name: 'gateway_asr_failovers_total', help: 'Calls moved from one ASR adapter of a fallback chain to the next', labelNames: ['from', 'to'], registers });
    this.botFirstTextLatency = h('gateway_bot_first_text_latency_seconds', 'Bot input to its first text or audio output');
    this.ttsFirstAudioLatency = h('gateway_tts_first_audio_latency_seconds', 'TTS request to its first audio chunk');
    this.callJitter = new Summary({ name: 'gateway_call_jitter_ms', help: 'RFC 3550 interarrival jitter at the end of each call, ms', percentiles: [0.5, 0.9, 0.99], registers });
    this.callDuration = new Histogram({ name: 'gateway_call_duration_seconds', help: 'Leg duration', buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600], registers });
  }
}
