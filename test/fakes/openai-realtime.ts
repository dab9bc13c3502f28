/**
 * A local OpenAI realtime server over WebSocket, speaking the documented (GA) event protocol closely enough for the
 * gateway's adapter: `Authorization: Bearer` and `?model=` checked at the upgrade; `session.created` on connect;
 * `session.update` (24 kHz pcm required) → `session.updated`; `input_audio_buffer.append` decoded and run through a
 * small energy VAD (server_vad: `input_audio_buffer.speech_started` / `speech_stopped` / `committed`, then a response,
 * and a response in progress is cancelled when the caller starts speaking, as `interrupt_response` does);
 * responses stream pcm16 24 kHz `response.output_audio.delta`s faster than real time, then `…audio.done`, optionally a
 * function call (`response.function_call_arguments.done`), and `response.done`; `conversation.item.truncate` is checked
 * against the item's audio and recorded (→ `conversation.item.truncated`); `conversation.item.create`,
 * `response.create`, `response.cancel` as documented; anything else gets an `error` event. Connections can be dropped.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import { must } from '../helpers/must.js';

export interface RealtimeReply {
  /** Audio length of the reply item (0: none). */
  audioMs: number;
  /** Tone of the reply's audio. */
  freqHz?: number;
  /** Transcript reported for the reply's audio. */
  text?: string;
  /** A function call after the audio. */
  tool?: { name: string; arguments: string };
}

export interface FakeRealtimeOptions {
  apiKey?: string;
  model?: string;
  /** Audio per delta. */
  chunkMs?: number;
  /** RMS (16-bit) above which a 20 ms block is speech. */
  vadRms?: number;
  /** Silence that ends the caller's speech. */
  silenceMs?: number;
}

export const FAKE_RATE_HZ = 24000;
const BLOCK = FAKE_RATE_HZ / 50;

/** Sample `i` of a reply item's tone (what the model "says"). */
export function replySample(freqHz: number, i: number): number {
  return Math.round(8000 * Math.sin((2 * Math.PI * freqHz * i) / FAKE_RATE_HZ));
}

export interface Truncate {
  item_id: string;
  content_index: number;
  audio_end_ms: number;
  /** Audio of the item sent so far, ms. */
  sentMs: number;
  at: number;
}

export class FakeRealtimeConn {
  /** Every client event but the audio appends. */
  readonly events: Array<Record<string, unknown>> = [];
  /** The caller's audio as received (24 kHz). */
  readonly audio: Int16Array[] = [];
  receivedSamples = 0;
  readonly truncates: Truncate[] = [];
  readonly toolOutputs: Array<{ call_id: string; output: string }> = [];
  readonly speechStarts: number[] = [];
  session: Record<string, unknown> | undefined;
  readonly openedAt = performance.now();
  /** Reply items: id → samples sent. */
  readonly items = new Map<string, number>();
  private speaking = false;
  private voicedRun = 0;
  private silentRun = 0;
  private pending = new Int16Array(0);
  private response: { id: string; timer?: NodeJS.Timeout } | undefined;
  private n = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly fake: FakeRealtime,
    readonly query: URLSearchParams,
  ) {
    ws.on('message', (d, binary) => (binary ? this.error('invalid_request_error', 'binary messages are not supported') : this.onText(d.toString())));
    ws.on('close', () => this.stopResponse());
    this.send({ type: 'session.created', session: { type: 'realtime', id: `sess_${++fake.seq}` } });
  }

  /** The service goes away mid-call. */
  drop(): void {
    this.stopResponse();
    this.ws.terminate();
  }

  /** Send anything (malformed events, for robustness tests). */
  raw(data: string | Buffer): void {
    this.ws.send(data);
  }

  get responding(): boolean {
    return this.response !== undefined;
  }

  private id(p: string): string {
    return `${p}_${++this.n}`;
  }

  private send(m: Record<string, unknown>): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ event_id: this.id('event'), ...m }));
  }

  private error(type: string, message: string, code?: string): void {
    this.send({ type: 'error', error: { type, code: code ?? null, message, param: null } });
  }

  private onText(text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.error('invalid_request_error', 'not JSON');
    }
    if (typeof m.type !== 'string') return this.error('invalid_request_error', 'missing type');
    if (m.type !== 'input_audio_buffer.append') this.events.push(m);
    switch (m.type) {
      case 'session.update': {
        const s = m.session as
          { type?: string; audio?: { input?: { format?: { type?: string; rate?: number } }; output?: { format?: { rate?: number } } } } | undefined;
        if (s?.type !== 'realtime') return this.error('invalid_request_error', 'session.type must be realtime', 'missing_required_parameter');
        const inF = s.audio?.input?.format;
        if (inF && (inF.type !== 'audio/pcm' || inF.rate !== FAKE_RATE_HZ))
          return this.error('invalid_request_error', 'audio/pcm input must be 24000 Hz', 'invalid_value');
        this.session = s;
        return this.send({ type: 'session.updated', session: s });
      }
      case 'input_audio_buffer.append': {
        if (typeof m.audio !== 'string') return this.error('invalid_request_error', 'audio must be base64', 'invalid_value');
        const b = Buffer.from(m.audio, 'base64');
        const s = new Int16Array(b.length >> 1);
        Buffer.from(s.buffer).set(b.subarray(0, s.length * 2));
        this.audio.push(s);
        this.receivedSamples += s.length;
        return this.vad(s);
      }
      case 'conversation.item.truncate': {
        const itemId = String(m.item_id);
        const sent = this.items.get(itemId);
        const end = m.audio_end_ms;
        if (sent === undefined) return this.error('invalid_request_error', `item ${itemId} not found`, 'item_not_found');
        const sentMs = (sent * 1000) / FAKE_RATE_HZ;
        if (typeof end !== 'number' || end < 0 || end > sentMs || m.content_index !== 0)
          return this.error('invalid_request_error', 'audio_end_ms is longer than the audio', 'invalid_value');
        this.truncates.push({ item_id: itemId, content_index: m.content_index, audio_end_ms: end, sentMs, at: performance.now() });
        return this.send({ type: 'conversation.item.truncated', item_id: itemId, content_index: 0, audio_end_ms: end });
      }
      case 'conversation.item.create': {
        const item = m.item as { type?: string; call_id?: string; output?: string } | undefined;
        if (item?.type === 'function_call_output') {
          if (typeof item.call_id !== 'string' || typeof item.output !== 'string')
            return this.error('invalid_request_error', 'call_id and output are required', 'missing_required_parameter');
          this.toolOutputs.push({ call_id: item.call_id, output: item.output });
        } else if (item?.type !== 'message') return this.error('invalid_request_error', 'unsupported item type', 'invalid_value');
        return this.send({ type: 'conversation.item.created', item: { id: this.id('item'), ...item } });
      }
      case 'response.create':
        return this.startResponse();
      case 'response.cancel':
        if (!this.response) return this.error('invalid_request_error', 'Cancellation failed: no active response found', 'response_cancel_not_active');
        return this.cancel();
      default:
        return this.error('invalid_request_error', `Invalid value: '${m.type.slice(0, 60)}'`, 'invalid_value');
    }
  }

  /** server_vad, in 20 ms blocks of the received audio. */
  private vad(s: Int16Array): void {
    const all = new Int16Array(this.pending.length + s.length);
    all.set(this.pending);
    all.set(s, this.pending.length);
    let off = 0;
    for (; off + BLOCK <= all.length; off += BLOCK) {
      let e = 0;
      for (let i = off; i < off + BLOCK; i++) e += must(all[i]) * must(all[i]);
      const voiced = Math.sqrt(e / BLOCK) > (this.fake.opts.vadRms ?? 1000);
      if (voiced) {
        this.voicedRun++;
        this.silentRun = 0;
      } else {
        this.silentRun++;
        this.voicedRun = 0;
      }
      if (!this.speaking && this.voicedRun >= 3) {
        this.speaking = true;
        this.speechStarts.push(performance.now());
        this.send({
          type: 'input_audio_buffer.speech_started',
          audio_start_ms: Math.round(((this.receivedSamples - all.length + off) * 1000) / FAKE_RATE_HZ),
          item_id: this.id('item'),
        });
        if (this.response) this.cancel();
      } else if (this.speaking && this.silentRun * 20 >= (this.fake.opts.silenceMs ?? 300)) {
        this.speaking = false;
        this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round((this.receivedSamples * 1000) / FAKE_RATE_HZ) });
        this.send({ type: 'input_audio_buffer.committed', item_id: this.id('item') });
        this.startResponse();
      }
    }
    this.pending = all.slice(off);
  }

  private startResponse(): void {
    if (this.response) return this.error('invalid_request_error', 'Conversation already has an active response', 'conversation_already_has_active_response');
    const reply = this.fake.replies.shift() ?? { audioMs: 1000 };
    const id = this.id('resp');
    const r: { id: string; timer?: NodeJS.Timeout } = { id };
    this.response = r;
    this.send({ type: 'response.created', response: { id, status: 'in_progress' } });
    const itemId = this.id('item');
    const total = Math.round((reply.audioMs * FAKE_RATE_HZ) / 1000);
    const chunk = Math.round(((this.fake.opts.chunkMs ?? 100) * FAKE_RATE_HZ) / 1000);
    const freq = reply.freqHz ?? 600;
    let sent = 0;
    const finish = () => {
      if (total > 0) {
        this.send({ type: 'response.output_audio.done', response_id: id, item_id: itemId, output_index: 0, content_index: 0 });
        this.send({
          type: 'response.output_audio_transcript.done',
          response_id: id,
          item_id: itemId,
          output_index: 0,
          content_index: 0,
          transcript: reply.text ?? 'A reply.',
        });
      }
      if (reply.tool) {
        const callId = this.id('call');
        this.send({
          type: 'response.output_item.added',
          response_id: id,
          output_index: 1,
          item: { id: this.id('item'), type: 'function_call', call_id: callId, name: reply.tool.name },
        });
        this.send({
          type: 'response.function_call_arguments.done',
          response_id: id,
          item_id: this.id('item'),
          output_index: 1,
          call_id: callId,
          name: reply.tool.name,
          arguments: reply.tool.arguments,
        });
      }
      this.response = undefined;
      this.send({ type: 'response.done', response: { id, status: 'completed' } });
    };
    if (total === 0) return finish();
    this.items.set(itemId, 0);
    this.send({ type: 'response.output_item.added', response_id: id, output_index: 0, item: { id: itemId, type: 'message', role: 'assistant' } });
    const step = () => {
      if (this.response !== r) return;
      const n = Math.min(chunk, total - sent);
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++) pcm[i] = replySample(freq, sent + i);
      sent += n;
      this.items.set(itemId, sent);
      this.send({
        type: 'response.output_audio.delta',
        response_id: id,
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta: Buffer.from(pcm.buffer).toString('base64'),
      });
      if (sent >= total) return finish();
      // Faster than real time, as the service is: a chunk every 10 ms.
      r.timer = setTimeout(step, 10);
    };
    step();
  }

  private cancel(): void {
    const r = this.response;
    if (!r) return;
    this.stopResponse();
    this.send({ type: 'response.done', response: { id: r.id, status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' } } });
  }

  private stopResponse(): void {
    if (this.response?.timer) clearTimeout(this.response.timer);
    this.response = undefined;
  }
}

export class FakeRealtime {
  readonly connections: FakeRealtimeConn[] = [];
  /** Upgrades refused (bad key or model). */
  refused = 0;
  /** Replies to give, in order (then 1 s of 600 Hz). */
  readonly replies: RealtimeReply[] = [];
  seq = 0;
  private wss: WebSocketServer | undefined;

  constructor(readonly opts: FakeRealtimeOptions = {}) {}

  reply(...r: RealtimeReply[]): void {
    this.replies.push(...r);
  }

  /** Resolves the ws:// URL of the endpoint. */
  async start(): Promise<string> {
    const wss = (this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: false,
      verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number, message?: string) => void) => {
        const q = new URL(info.req.url ?? '/', 'http://x').searchParams;
        if (this.opts.apiKey && info.req.headers.authorization !== `Bearer ${this.opts.apiKey}`) {
          this.refused++;
          return cb(false, 401, 'Unauthorized');
        }
        if (this.opts.model && q.get('model') !== this.opts.model) {
          this.refused++;
          return cb(false, 400, 'Bad model');
        }
        cb(true);
      },
    }));
    wss.on('connection', (ws, req) => this.connections.push(new FakeRealtimeConn(ws, this, new URL(req.url ?? '/', 'http://x').searchParams)));
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const addr = wss.address() as { port: number };
    return `ws://127.0.0.1:${addr.port}/v1/realtime`;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.drop();
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()));
  }
}
