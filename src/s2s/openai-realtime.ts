/**
 * OpenAI's realtime API as a speech-to-speech adapter (`BOT_ADAPTER=openai-realtime`), over its documented WebSocket
 * event protocol with `ws` (the official `openai` SDK needs Node ≥ 22). One WebSocket per call:
 *
 *   → session.update (pcm16 at 24 kHz both ways, server VAD, voice, the LLM bot's prompt and call-control tools)
 *   → input_audio_buffer.append (the caller, resampled to 24 kHz only when the leg is not 24 kHz)
 *   ← response.output_audio.delta (also the beta name response.audio.delta) → `audio`; …audio.done → `audio-done`
 *   ← input_audio_buffer.speech_started → `speech-start` (barge-in)
 *   → conversation.item.truncate {item_id, content_index 0, audio_end_ms} (what the caller heard) + response.cancel
 *   ← response.function_call_arguments.done → `tool-call`; → conversation.item.create function_call_output, response.create
 *   ← error → a recoverable `error`; the socket closing under us → an unrecoverable one (S2S_CONNECTION_LOST)
 *
 * Sessions are opened while the answer webhook is served ({@link preconnect}), at most {@link PRECONNECT_MAX} at a time,
 * each kept {@link PRECONNECT_TTL_MS} for its leg; a call without one connects at its start. Audio written before the
 * socket is open waits in a bounded queue (drop-oldest, counted).
 */
import WebSocket from 'ws';
import { StreamResampler } from '../audio/resampler.js';
import { toolSchemas, type ToolPolicy } from '../bot/llm-tools.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { Channel } from '../util/channel.js';
import type { S2sAdapter, S2sEvent, S2sSession, S2sSessionOptions } from './types.js';
import type { BotSettings } from '../config/sections.js';

/** The model's native audio: 16-bit mono PCM at 24 kHz, both ways. */
export const MODEL_RATE_HZ = 24000;
/** Pre-connected sessions kept at once; answer webhooks past it connect at call start. */
export const PRECONNECT_MAX = 32;
/** A pre-connected session whose leg has not come within this long is closed. */
export const PRECONNECT_TTL_MS = 15000;
/** Largest message accepted from the service (audio deltas are a few hundred ms; a bound, never 100 MiB). */
const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
/** Model events queued for the call (the link reads them at once; drop-oldest, counted). */
const EVENT_CAPACITY = 2048;
/** Caller frames kept while the socket opens (2 s); older ones are dropped. */
const PENDING_FRAMES = 100;
/** Control messages kept while the socket opens. */
const PENDING_TEXTS = 64;
/** Socket bytes unsent past which a caller frame is dropped instead of queued. */
const SEND_WATERMARK_BYTES = 1 << 20;
/** Reply items whose length is remembered (to bound `audio_end_ms`). */
const MAX_ITEMS = 8;

interface Settings {
  url: string;
  apiKey: string;
  model: string;
  voice: string;
  instructions: string;
  greeting: string;
  tools: object[];
  connectTimeoutMs: number;
}

/** Per-process counters, read by tests and logs. */
export interface RealtimeStats {
  connects: number;
  preconnects: number;
  preconnectsUsed: number;
  preconnectsExpired: number;
  framesDropped: number;
  eventsDropped: number;
  protocolErrors: number;
}

/** The session.update of every connection (the GA realtime session shape). */
export function sessionUpdate(s: Settings): object {
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      model: s.model,
      output_modalities: ['audio'],
      instructions: s.instructions,
      audio: {
        input: { format: { type: 'audio/pcm', rate: MODEL_RATE_HZ }, turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true } },
        output: { format: { type: 'audio/pcm', rate: MODEL_RATE_HZ }, voice: s.voice },
      },
      tools: s.tools,
      tool_choice: 'auto',
    },
  };
}

/** Build the adapter from config. @throws GatewayError CONFIG_INVALID when the service needs a key and none is set. */
export function createOpenAiRealtime(ctx: AdapterContext): S2sAdapter & { readonly stats: RealtimeStats } {
  const cfg: BotSettings = ctx.sections.bot;
  const apiKey = cfg.openaiApiKey || cfg.llmApiKey;
  const url = new URL(cfg.openaiRealtimeUrl);
  if (!apiKey && url.hostname === 'api.openai.com') {
    throw new GatewayError('CONFIG_INVALID', 'BOT_ADAPTER=openai-realtime needs OPENAI_API_KEY (or LLM_API_KEY) for api.openai.com');
  }
  url.searchParams.set('model', cfg.openaiRealtimeModel);
  const policy: ToolPolicy = { transferNumbers: cfg.llmTransferNumbers };
  // The LLM bot's tools, in the realtime API's flat function shape.
  const tools = toolSchemas(policy).map((t) => ({ type: 'function', ...(t as { function: object }).function }));
  const settings: Settings = {
    url: url.toString(),
    apiKey,
    model: cfg.openaiRealtimeModel,
    voice: cfg.openaiRealtimeVoice,
    instructions: cfg.llmSystemPrompt,
    greeting: cfg.llmGreeting,
    tools,
    connectTimeoutMs: cfg.openaiRealtimeConnectTimeoutMs,
  };
  const log = ctx.logger;
  const stats: RealtimeStats = {
    connects: 0,
    preconnects: 0,
    preconnectsUsed: 0,
    preconnectsExpired: 0,
    framesDropped: 0,
    eventsDropped: 0,
    protocolErrors: 0,
  };
  const pool = new Map<string, { conn: RealtimeConnection; timer: NodeJS.Timeout }>();
  let closed = false;

  return {
    name: 'openai-realtime',
    stats,
    preconnect(callId: string): void {
      if (closed || pool.has(callId) || pool.size >= PRECONNECT_MAX) return;
      stats.preconnects++;
      const conn = new RealtimeConnection(settings, log, stats);
      conn.connect();
      const timer = setTimeout(() => {
        if (pool.get(callId)?.conn !== conn) return;
        pool.delete(callId);
        stats.preconnectsExpired++;
        conn.close();
      }, PRECONNECT_TTL_MS);
      timer.unref();
      pool.set(callId, { conn, timer });
    },
    start(opts: S2sSessionOptions): S2sSession {
      const held = pool.get(opts.call.callId);
      let conn: RealtimeConnection;
      if (held) {
        pool.delete(opts.call.callId);
        clearTimeout(held.timer);
      }
      if (held && !held.conn.dead) {
        stats.preconnectsUsed++;
        conn = held.conn;
      } else {
        held?.conn.close();
        conn = new RealtimeConnection(settings, log, stats);
        conn.connect();
      }
      conn.attach(opts);
      return conn;
    },
    close(): void {
      closed = true;
      for (const { conn, timer } of pool.values()) {
        clearTimeout(timer);
        conn.close();
      }
      pool.clear();
    },
  };
}

/** One WebSocket to the service: opened early (pre-connect) or at call start, then attached to one call. */
class RealtimeConnection implements S2sSession {
  readonly events = new Channel<S2sEvent>(EVENT_CAPACITY, 'drop-oldest');
  private readonly s: Settings;
  private readonly log: Logger;
  private readonly stats: RealtimeStats;
  private ws: WebSocket | undefined;
  private open = false;
  private closedFlag = false;
  /** The socket failed or closed: a pooled connection in this state is not used. */
  dead = false;
  private pendingFrames: Buffer[] = [];
  private pendingTexts: string[] = [];
  private resampler: StreamResampler | undefined;
  private attached = false;
  /** A response is being generated (response.created … response.done). */
  private responding = false;
  /** Samples received per reply item (bounds audio_end_ms). */
  private readonly itemSamples = new Map<string, number>();
  private onAbort: (() => void) | undefined;
  private signal: AbortSignal | undefined;

  constructor(s: Settings, log: Logger, stats: RealtimeStats) {
    this.s = s;
    this.log = log;
    this.stats = stats;
  }

  connect(): void {
    this.stats.connects++;
    const headers: Record<string, string> = {};
    if (this.s.apiKey) headers.authorization = `Bearer ${this.s.apiKey}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.s.url, { headers, perMessageDeflate: false, maxPayload: MAX_PAYLOAD_BYTES, handshakeTimeout: this.s.connectTimeoutMs });
    } catch (err) {
      return this.lost(`cannot open ${this.s.url}: ${(err as Error).message}`);
    }
    this.ws = ws;
    ws.on('open', () => {
      if (this.closedFlag) return;
      this.open = true;
      ws.send(JSON.stringify(sessionUpdate(this.s)));
      for (const t of this.pendingTexts) ws.send(t);
      this.pendingTexts = [];
      const frames = this.pendingFrames;
      this.pendingFrames = [];
      for (const f of frames) this.write(f);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void this.stats.protocolErrors++;
      // Network input: whatever the service sends, a throw here must never reach the socket's event loop.
      try {
        this.onMessage(data as Buffer);
      } catch {
        this.stats.protocolErrors++;
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      this.lost(`the service refused the connection: HTTP ${res.statusCode}`);
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => this.lost(`connection error: ${err.message}`));
    ws.on('close', (code, reason) => this.lost(`connection closed by the service (${code} ${reason.toString().slice(0, 200)})`));
  }

  /** Bind to the call: its rate (resampling only when it differs), its signal, the greeting. */
  attach(opts: S2sSessionOptions): void {
    if (this.attached) return;
    this.attached = true;
    if (opts.call.sampleRateHz !== MODEL_RATE_HZ) this.resampler = new StreamResampler(opts.call.sampleRateHz, MODEL_RATE_HZ);
    this.signal = opts.signal;
    this.onAbort = () => this.close();
    opts.signal.addEventListener('abort', this.onAbort, { once: true });
    if (this.dead) this.events.push({ type: 'error', code: 'S2S_CONNECTION_LOST', message: 'the pre-connected session was lost', recoverable: false });
    if (this.s.greeting) this.send({ type: 'response.create', response: { instructions: `Greet the caller by saying exactly: ${this.s.greeting}` } });
  }

  write(frame: Buffer): void {
    if (this.closedFlag || this.dead) return;
    if (!this.open) {
      // Copied: the caller's buffer is valid only during the call.
      if (this.pendingFrames.push(Buffer.from(frame)) > PENDING_FRAMES) {
        this.pendingFrames.shift();
        this.stats.framesDropped++;
      }
      return;
    }
    const ws = this.ws as WebSocket;
    if (ws.bufferedAmount > SEND_WATERMARK_BYTES) {
      this.stats.framesDropped++;
      return;
    }
    let pcm = frame;
    const rs = this.resampler;
    if (rs) {
      const aligned = frame.byteOffset % 2 === 0 ? frame : Buffer.from(frame);
      const out = rs.process(new Int16Array(aligned.buffer, aligned.byteOffset, aligned.length >> 1));
      if (!out.length) return;
      pcm = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    ws.send('{"type":"input_audio_buffer.append","audio":"' + pcm.toString('base64') + '"}');
  }

  truncate(itemId: string, heardMs: number): void {
    if (this.responding) this.send({ type: 'response.cancel' });
    // audio_end_ms past the item's audio is refused by the service: bound it by what was received.
    const got = this.itemSamples.get(itemId);
    const maxMs = got === undefined ? heardMs : Math.floor((got * 1000) / MODEL_RATE_HZ);
    this.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: Math.max(0, Math.min(Math.round(heardMs), maxMs)) });
  }

  toolResult(callId: string, output: string, respond: boolean): void {
    this.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output } });
    if (respond) this.send({ type: 'response.create' });
  }

  tell(text: string): void {
    this.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
    this.send({ type: 'response.create' });
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.dead = true;
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.pendingFrames = [];
    this.pendingTexts = [];
    this.resampler?.close();
    this.resampler = undefined;
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'call ended');
    }
    this.events.close();
  }

  private send(msg: object): void {
    if (this.closedFlag || this.dead) return;
    const text = JSON.stringify(msg);
    if (this.open) (this.ws as WebSocket).send(text);
    else if (this.pendingTexts.length < PENDING_TEXTS) this.pendingTexts.push(text);
  }

  /** The connection is gone (not closed by us): the call's session is over. */
  private lost(why: string): void {
    if (this.closedFlag || this.dead) return;
    this.dead = true;
    this.open = false;
    this.log.warn({ why }, 'realtime session lost');
    if (this.attached) this.events.push({ type: 'error', code: 'S2S_CONNECTION_LOST', message: why, recoverable: false });
    this.ws?.terminate();
  }

  private onMessage(data: Buffer): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(data.toString()) as Record<string, unknown>;
    } catch {
      this.stats.protocolErrors++;
      return;
    }
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') {
      this.stats.protocolErrors++;
      return;
    }
    if (!this.attached) return; // before the call: session.created / session.updated only
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    switch (m.type) {
      case 'response.output_audio.delta':
      case 'response.audio.delta': {
        const itemId = str(m.item_id);
        if (!itemId || typeof m.delta !== 'string') return void this.stats.protocolErrors++;
        const b = Buffer.from(m.delta, 'base64');
        const audio = new Int16Array(b.length >> 1);
        Buffer.from(audio.buffer).set(b.subarray(0, audio.length * 2));
        if (!this.itemSamples.has(itemId) && this.itemSamples.size >= MAX_ITEMS) this.itemSamples.delete(this.itemSamples.keys().next().value as string);
        this.itemSamples.set(itemId, (this.itemSamples.get(itemId) ?? 0) + audio.length);
        return this.push({ type: 'audio', itemId, audio, sampleRateHz: MODEL_RATE_HZ });
      }
      case 'response.output_audio.done':
      case 'response.audio.done':
        return this.push({ type: 'audio-done', itemId: str(m.item_id) });
      case 'input_audio_buffer.speech_started':
        return this.push({ type: 'speech-start' });
      case 'response.created':
        this.responding = true;
        return;
      case 'response.done': {
        this.responding = false;
        const r = m.response as { status?: unknown; status_details?: { error?: { code?: unknown; message?: unknown } } } | undefined;
        if (r?.status === 'failed') {
          const e = r.status_details?.error;
          this.push({
            type: 'error',
            code: 'S2S_RESPONSE_FAILED',
            message: `response failed: ${str(e?.code)} ${str(e?.message)}`.slice(0, 300),
            recoverable: true,
          });
        }
        return;
      }
      case 'response.function_call_arguments.done':
        if (!str(m.call_id) || !str(m.name)) return void this.stats.protocolErrors++;
        return this.push({ type: 'tool-call', callId: str(m.call_id), name: str(m.name), arguments: str(m.arguments) });
      case 'conversation.item.input_audio_transcription.completed':
        if (str(m.transcript)) this.push({ type: 'transcript', role: 'caller', text: str(m.transcript).slice(0, 2000) });
        return;
      case 'response.output_audio_transcript.done':
      case 'response.audio_transcript.done':
        if (str(m.transcript)) this.push({ type: 'transcript', role: 'bot', text: str(m.transcript).slice(0, 2000) });
        return;
      case 'error': {
        const e = (m.error ?? {}) as { code?: unknown; type?: unknown; message?: unknown };
        return this.push({
          type: 'error',
          code: 'S2S_SERVICE_ERROR',
          message: `${str(e.type)} ${str(e.code)}: ${str(e.message)}`.slice(0, 300),
          recoverable: true,
        });
      }
      default:
        return; // the many informational events (session.*, conversation.item.*, rate_limits.updated, …)
    }
  }

  private push(e: S2sEvent): void {
    if (!this.events.push(e)) this.stats.eventsDropped++;
  }
}
