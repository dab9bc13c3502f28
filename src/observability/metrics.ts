/**
 * Every Prometheus metric the gateway exports, defined in this one file, on a registry owned by the app (no global
 * registry, so two gateways in one process, as in tests, never collide).
 *
 * Hot-path counts (frames in/out, …) are plain numbers in {@link HotCounters}, bumped with `++` on the frame path and
 * copied into Prometheus counters only when /metrics is scraped.
 */
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { QUANTILE_MEAN } from '../cluster/aggregate.js';
import type { LlmBotStats } from '../bot/llm.js';
import type { RemoteBotStats } from '../bot/remote.js';
import type { FallbackTtsStats } from '../tts/fallback.js';
import type { RecordingStoreStats } from '../recording/store.js';

/**
 * Plain counters kept by components built before (or apart from) the metrics: read when /metrics is scraped. The app
 * sets the ones that exist in this process.
 */
export interface StatSources {
  llm?: LlmBotStats;
  remoteBot?: RemoteBotStats;
  ttsFallback?: FallbackTtsStats;
  recordings?: RecordingStoreStats;
  /** The live console: connected clients and events dropped for slow ones. */
  console?: { readonly clients: number; readonly dropped: number };
  /** The offline recogniser budget (`ASR_ADAPTER=local`): processes running, calls refused past the budget. */
  localAsr?: { readonly running: number; readonly overBudget: number; readonly startsQueued: number };
}

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
  /** Inbound text messages that were not a JSON event object. */
  legTextMalformed = 0;
  /** Per-leg log lines suppressed by the per-leg log rate limit (counted instead of written). */
  legLogSuppressed = 0;
  /** Spells of a live leg sending no audio (treated as silence, not as a dead leg). */
  legSilences = 0;
  /** Caller frames the VAD called voiced that the echo guard judged to be the bot's own echo (not speech). */
  echoFrames = 0;
  /** Final transcripts of the bot's own echo (heard before the echo guard had the path) dropped, not answered. */
  echoTranscriptsDropped = 0;
  /** Turns the turn gate gave to the bot (ENDPOINTING=adaptive). */
  turnGateReleased = 0;
  /** Finals the turn gate joined to a held one: a pause inside the caller's turn, not answered. */
  turnGateJoined = 0;
  /** Turns that read complete but sounded unfinished (the prosodic cue held them for longer silence). */
  turnGateProsodyHolds = 0;
  /** Turns released after the conjunction hold (a trailing "and"/"but" the recogniser may have made up). */
  turnGateDoubtfulReleases = 0;
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
  /** The prosodic cue's judgements (set by the app when its worker runs): by the worker, on the event loop, too late. */
  prosodyCues: () => { worker: number; eventLoop: number; late: number } = () => ({ worker: 0, eventLoop: 0, late: 0 });
  /** Sum of a per-call counter over the live calls (set by the app; closed calls are already in {@link hot}). */
  sumLive: (pick: (s: LiveCallStats) => number) => number = () => 0;

  readonly activeCalls: Gauge;
  readonly legsAccepted: Counter;
  readonly legsRefused: Counter<'reason'>;
  readonly legsAdmissionWaited: Counter;
  readonly legsClosed: Counter<'code'>;
  readonly webhookEvents: Counter<'status'>;
  readonly webhookRequests: Counter<'hook' | 'code'>;
  readonly legEvents: Counter<'event'>;
  readonly bargeIns: Counter;
  readonly bargeInPauses: Counter;
  readonly bargeInResumes: Counter<'reason'>;
  readonly backchannels: Counter;
  readonly adapterErrors: Counter<'stage' | 'code'>;
  readonly turnLatency: Histogram;
  readonly asrFinalLatency: Histogram<'adapter'>;
  readonly asrRestarts: Counter<'adapter'>;
  readonly asrFailovers: Counter<'from' | 'to'>;
  readonly botFirstTextLatency: Histogram;
  readonly ttsFirstAudioLatency: Histogram;
  readonly callJitter: Summary;
  readonly callDuration: Histogram;
  readonly llmFirstTokenLatency: Histogram;
  readonly vonageRequests: Counter<'op' | 'status'>;
  readonly vonageRequestDuration: Histogram<'op'>;
  /** Throws and rejections from adapter code caught at the adapter boundary, by kind and call point. */
  readonly adapterFaults: Counter<'kind' | 'point'>;
  /** Last-resort process handlers that fired (uncaughtException, unhandledRejection): each one is a bug to fix. */
  readonly processFaults: Counter<'type'>;
  /** 20 ms tick listeners removed because they kept throwing (their call is closed with 1011). */
  readonly tickerListenerFaults: Counter;
  /** Offline recognisers running now. */
  readonly localAsrProcesses: Gauge;
  /** Calls that went on without ASR because the offline recogniser budget was full. */
  readonly localAsrOverBudget: Counter;
  /** Log lines dropped because the log destination (stdout) was too slow. */
  readonly logLinesDropped: Counter;
  /** Counters of other components, read at scrape time (see {@link StatSources}). */
  readonly sources: StatSources = {};

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_process_' });
    const hot = this.hot;
    const fromHot = (name: string, help: string, read: () => number) => {
      let reported = 0;
      return new Counter({
        name,
        help,
        registers,
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
    fromHot(
      'gateway_jitter_overruns_total',
      'Frames dropped (oldest first) because a jitter buffer was full',
      () => hot.jitterOverruns + this.sumLive((s) => s.jitter.overruns),
    );
    fromHot(
      'gateway_jitter_late_frames_total',
      'Frames that arrived after their playout slot',
      () => hot.jitterLateFrames + this.sumLive((s) => s.jitter.lateFrames),
    );
    fromHot(
      'gateway_pacer_late_sends_total',
      'Pacer ticks that had to catch up more than one frame',
      () => hot.pacerLateSends + this.sumLive((s) => s.pacer.lateSends),
    );
    fromHot(
      'gateway_pacer_dropped_frames_total',
      'Outbound frames dropped: socket buffer past the watermark',
      () => hot.pacerDroppedBackpressure + this.sumLive((s) => s.pacer.framesDroppedBackpressure),
    );
    fromHot(
      'gateway_pacer_rejected_frames_total',
      'Outbound frames refused: pacer queue full',
      () => hot.pacerRejectedFull + this.sumLive((s) => s.pacer.framesRejectedFull),
    );
    fromHot(
      'gateway_echo_frames_total',
      "Caller frames the VAD called speech that the echo guard judged to be the bot's own audio echoed back by the line (kept from barge-in and utterance start)",
      () => hot.echoFrames,
    );
    fromHot(
      'gateway_echo_transcripts_dropped_total',
      "Final transcripts of the bot's own audio echoed back by the line (heard before the echo guard had the line's echo path) dropped instead of answered",
      () => hot.echoTranscriptsDropped,
    );
    fromHot('gateway_turn_gate_released_total', 'Turns the turn gate gave to the bot (ENDPOINTING=adaptive)', () => hot.turnGateReleased);
    fromHot(
      'gateway_turn_gate_joined_total',
      "Final transcripts the turn gate joined to the one it held: a pause inside the caller's turn that was not answered",
      () => hot.turnGateJoined,
    );
    fromHot(
      'gateway_turn_gate_prosody_holds_total',
      'Turns whose words read complete but whose audio sounded unfinished: held by the prosodic cue for a longer silence',
      () => hot.turnGateProsodyHolds,
    );
    fromHot(
      'gateway_turn_gate_doubtful_releases_total',
      'Turns released only after the conjunction hold (a trailing "and"/"but" the telephone-band recogniser may have made up)',
      () => hot.turnGateDoubtfulReleases,
    );
    fromHot('gateway_ticker_late_ticks_total', 'Shared 20 ms clock ticks that fired more than 10 ms late', () => this.tickerLateTicks());
    fromHot(
      'gateway_prosody_cues_worker_total',
      "Prosodic end-of-turn cues judged by the cue's worker thread (ENDPOINT_PROSODY_WORKER)",
      () => this.prosodyCues().worker,
    );
    fromHot(
      'gateway_prosody_cues_event_loop_total',
      'Prosodic cues computed on the event loop because the worker could not take them (queue full, worker failed)',
      () => this.prosodyCues().eventLoop,
    );
    fromHot(
      'gateway_prosody_cues_late_total',
      'Prosodic cues whose verdict came too late (after 200 ms): the turn went on without it',
      () => this.prosodyCues().late,
    );

    this.activeCalls = new Gauge({ name: 'gateway_active_calls', help: 'Vonage legs currently connected', registers });
    this.legsAccepted = new Counter({ name: 'gateway_legs_accepted_total', help: 'WebSocket legs that completed the handshake', registers });
    this.legsRefused = new Counter({ name: 'gateway_legs_refused_total', help: 'WebSocket legs refused, by reason', labelNames: ['reason'], registers });
    this.legsAdmissionWaited = new Counter({
      name: 'gateway_legs_admission_waited_total',
      help: 'WebSocket upgrades that waited for a later turn of the event loop (a burst beyond ADMISSION_SLICE_MS)',
      registers,
    });
    this.legsClosed = new Counter({ name: 'gateway_legs_closed_total', help: 'WebSocket legs closed, by close code', labelNames: ['code'], registers });
    this.webhookEvents = new Counter({
      name: 'gateway_webhook_events_total',
      help: 'Event webhooks received, by status (or event type)',
      labelNames: ['status'],
      registers,
    });
    this.webhookRequests = new Counter({
      name: 'gateway_webhook_requests_total',
      help: 'Webhook requests, by hook and HTTP status',
      labelNames: ['hook', 'code'],
      registers,
    });
    this.legEvents = new Counter({ name: 'gateway_leg_events_total', help: 'Text events received on legs, by event', labelNames: ['event'], registers });
    this.bargeIns = new Counter({ name: 'gateway_barge_ins_total', help: 'Bot playback interrupted by caller speech', registers });
    this.bargeInPauses = new Counter({
      name: 'gateway_barge_in_pauses_total',
      help: 'Bot playback paused at a barge-in onset (pause, then decide)',
      registers,
    });
    this.bargeInResumes = new Counter({
      name: 'gateway_barge_in_resumes_total',
      help: 'Paused playback resumed unconfirmed, by reason (silence, speech-end, bound, played)',
      labelNames: ['reason'],
      registers,
    });
    this.backchannels = new Counter({
      name: 'gateway_backchannels_total',
      help: 'Caller backchannels (short acknowledgements while the bot spoke) told to the bot',
      registers,
    });
    this.adapterErrors = new Counter({
      name: 'gateway_adapter_errors_total',
      help: 'Adapter error events, by stage and code',
      labelNames: ['stage', 'code'],
      registers,
    });
    const h = (name: string, help: string) => new Histogram({ name, help, buckets: LATENCY_BUCKETS_S, registers });
    this.turnLatency = h('gateway_turn_latency_seconds', "End of the caller's speech (VAD) to the first reply frame sent");
    this.asrFinalLatency = new Histogram({
      name: 'gateway_asr_final_latency_seconds',
      help: 'End of speech (VAD) to the ASR final transcript, by adapter',
      labelNames: ['adapter'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.asrRestarts = new Counter({
      name: 'gateway_asr_restarts_total',
      help: 'ASR provider streams replaced inside a call (rotation before a duration cap, reconnect after an error), by adapter',
      labelNames: ['adapter'],
      registers,
    });
    this.asrFailovers = new Counter({
      name: 'gateway_asr_failovers_total',
      help: 'Calls moved from one ASR adapter of a fallback chain to the next',
      labelNames: ['from', 'to'],
      registers,
    });
    this.botFirstTextLatency = h('gateway_bot_first_text_latency_seconds', 'Bot input to its first text or audio output');
    this.ttsFirstAudioLatency = h('gateway_tts_first_audio_latency_seconds', 'TTS request to its first audio chunk');
    this.callJitter = new Summary({
      name: 'gateway_call_jitter_ms',
      help: 'RFC 3550 interarrival jitter at the end of each call, ms',
      percentiles: [0.5, 0.9, 0.99],
      registers,
      // Across workers (WORKERS > 1): _sum/_count summed, quantiles averaged (cluster/aggregate.ts).
      aggregator: QUANTILE_MEAN as 'average',
    });
    this.callDuration = new Histogram({
      name: 'gateway_call_duration_seconds',
      help: 'Leg duration',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });

    // ── bots, call control, TTS fallback, recordings ──
    this.llmFirstTokenLatency = h('gateway_llm_first_token_latency_seconds', 'LLM request sent to its first streamed token');
    this.vonageRequests = new Counter({
      name: 'gateway_vonage_requests_total',
      help: 'Vonage REST requests (each attempt), by operation and HTTP status (0 = timeout or network error)',
      labelNames: ['op', 'status'],
      registers,
    });
    this.vonageRequestDuration = new Histogram({
      name: 'gateway_vonage_request_seconds',
      help: 'Vonage REST request duration (each attempt), by operation',
      labelNames: ['op'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    fromHot('gateway_leg_text_malformed_total', 'Inbound text messages that were not a JSON event object', () => hot.legTextMalformed);
    fromHot('gateway_leg_log_suppressed_total', 'Per-leg log lines not written because of the per-leg log rate limit', () => hot.legLogSuppressed);
    fromHot('gateway_leg_silences_total', 'Spells of a live leg sending no audio (treated as silence)', () => hot.legSilences);
    this.adapterFaults = new Counter({
      name: 'gateway_adapter_faults_total',
      help: 'Throws or rejections from adapter code caught at the adapter boundary, by kind (asr, bot, tts) and call point',
      labelNames: ['kind', 'point'],
      registers,
    });
    this.processFaults = new Counter({
      name: 'gateway_process_faults_total',
      help: 'Last-resort process handlers that fired (uncaughtException, unhandledRejection)',
      labelNames: ['type'],
      registers,
    });
    this.tickerListenerFaults = new Counter({
      name: 'gateway_ticker_listener_faults_total',
      help: '20 ms tick listeners removed because they kept throwing (their call closed with 1011)',
      registers,
    });
    const src = this.sources;
    this.localAsrProcesses = new Gauge({
      name: 'gateway_local_asr_processes',
      help: 'Offline recognisers (pocketsphinx) running now',
      registers,
      collect() {
        if (src.localAsr) this.set(src.localAsr.running);
      },
    });
    let overBudgetReported = 0;
    this.localAsrOverBudget = new Counter({
      name: 'gateway_local_asr_over_budget_total',
      help: 'Calls that went on without ASR because LOCAL_ASR_MAX_PROCESSES recognisers were running',
      registers,
      collect() {
        const v = src.localAsr?.overBudget ?? 0;
        if (v > overBudgetReported) this.inc(v - overBudgetReported);
        overBudgetReported = Math.max(overBudgetReported, v);
      },
    });
    this.logLinesDropped = new Counter({
      name: 'gateway_log_lines_dropped_total',
      help: 'Log lines dropped because stdout was too slow (the log never blocks the process or grows without bound)',
      registers,
    });
    const scraped = (name: string, help: string, label: string | undefined, read: () => number | Record<string, number> | undefined) => {
      const reported = new Map<string, number>();
      return new Counter({
        name,
        help,
        labelNames: label ? [label] : [],
        registers,
        collect() {
          const v = read();
          if (v === undefined) return;
          const entries: Array<[string, number]> = typeof v === 'number' ? [['', v]] : Object.entries(v);
          for (const [k, n] of entries) {
            const was = reported.get(k) ?? 0;
            if (n > was) {
              if (label) this.inc({ [label]: k }, n - was);
              else this.inc(n - was);
            }
            reported.set(k, n);
          }
        },
      });
    };
    scraped('gateway_llm_requests_total', 'LLM bot requests by outcome (completed, aborted by barge-in or a newer input, error)', 'outcome', () => {
      const s = src.llm;
      return s && { completed: s.completed, aborted: s.aborted, error: Object.values(s.errors).reduce((a, b) => a + b, 0) };
    });
    scraped('gateway_llm_errors_total', 'LLM bot request failures by code (each answered with a spoken apology)', 'code', () => src.llm?.errors);
    scraped('gateway_llm_tool_calls_total', 'LLM tool calls by tool (`invalid` when refused)', 'tool', () => src.llm?.toolCalls);
    scraped('gateway_bot_connect_failures_total', 'Sidecar bot connections that could not be opened', undefined, () => src.remoteBot?.connectFailures);
    scraped('gateway_bot_disconnects_total', 'Sidecar bot connections lost mid-call', undefined, () => src.remoteBot?.disconnects);
    scraped('gateway_bot_invalid_messages_total', 'Sidecar bot messages refused with an error reply', undefined, () => src.remoteBot?.invalidMessages);
    scraped(
      'gateway_bot_dropped_messages_total',
      'Sidecar bot messages dropped, by direction',
      'direction',
      () => src.remoteBot && { to_bot: src.remoteBot.droppedToBot, from_bot: src.remoteBot.droppedFromBot },
    );
    scraped(
      'gateway_tts_fallbacks_total',
      'TTS requests handed to the next adapter of a TTS_ADAPTER list, by the adapter that failed',
      'adapter',
      () => src.ttsFallback?.byAdapter,
    );
    scraped('gateway_tts_exhausted_total', 'TTS requests every adapter of the list failed', undefined, () => src.ttsFallback?.exhausted);
    scraped(
      'gateway_recordings_total',
      'Call recordings ended, by result (completed, failed)',
      'result',
      () => src.recordings && { completed: src.recordings.completed, failed: src.recordings.failed },
    );
    scraped(
      'gateway_recording_bytes_dropped_total',
      'Recorded audio bytes dropped (disk behind), over ended recordings',
      undefined,
      () => src.recordings?.bytesDropped,
    );
    scraped(
      'gateway_recording_blocks_dropped_total',
      'Recording blocks dropped because the write queue was full',
      undefined,
      () => src.recordings?.blocksDropped,
    );
    new Gauge({
      name: 'gateway_console_clients',
      help: 'Live console clients connected',
      registers,
      collect() {
        this.set(src.console?.clients ?? 0);
      },
    });
    scraped('gateway_console_events_dropped_total', 'Console events dropped for clients that read too slowly', undefined, () => src.console?.dropped);
    new Gauge({
      name: 'gateway_recordings_active',
      help: 'Call recordings open now',
      registers,
      collect() {
        this.set(src.recordings?.active ?? 0);
      },
    });
  }
}
