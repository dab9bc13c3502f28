/**
 * `BOT_ADAPTER=remote`: a bot in any language, in another process, drives the call over the sidecar protocol
 * (docs/sidecar-protocol.md). Per call the gateway opens a WebSocket to `BOT_URL` and exchanges JSON text messages.
 *
 * If the bot cannot be reached at call start (refused, timed out, HTTP error) or goes away mid-call (the socket closes
 * or errors, or stops answering pings), the caller is not left in silence: the gateway says `BOT_APOLOGY_TEXT`, then
 * hangs up once it has played, and logs why. A bad message from the bot gets an `error` back and is ignored.
 *
 * Bounded: `maxPayload` on the socket, messages queued while connecting (drop newest, counted), unsent bytes on an
 * open socket (drop, counted), and the outputs waiting for the session (room is kept for the apology).
 *
 * Versions (protocol 1.1): the upgrade offers the subprotocol `vonage-gateway.v1` and carries the call id (header
 * `X-Vonage-Call-Id` and query `callId`). A bot that answers the subprotocol speaks 1.1 and gets the 1.1 error codes;
 * one that answers none is a 1.0 bot and is spoken to exactly as before, apart from fields 1.0 told bots to ignore;
 * one that answers another subprotocol is told why (an `error` `UNSUPPORTED_PROTOCOL`, then close 1002) and the
 * caller hears the apology.
 */
import WebSocket from 'ws';
import type { Logger } from '../observability/logger.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { Channel } from '../util/channel.js';
import { GatewayError } from '../errors.js';
import {
  callEndedFor,
  gatewayMessageFor,
  HARD_MAX_BOT_MESSAGE_BYTES,
  MAX_BOT_MESSAGE_BYTES,
  MAX_SAY_CHARS,
  parseBotMessage,
  PLAY_SAMPLE_RATES_HZ,
  transferNcco,
  type BotMessage,
  type GatewayMessage,
  type SidecarCapabilities,
} from './remote-protocol.js';
import { SIDECAR_PROTOCOL_FULL_VERSION, SIDECAR_SUBPROTOCOL } from './remote-schema.js';
import { SayAssembler } from './say-assembler.js';
import type { BotAdapter, BotInput, BotOutput, BotSession, BotSessionOptions } from './types.js';

/** Settings of the remote adapter (from BOT_URL, BOT_AUTH_TOKEN, BOT_CONNECT_TIMEOUT_MS, BOT_APOLOGY_TEXT). */
export interface RemoteBotOptions {
  url: string;
  /** Sent as `Authorization: Bearer <token>` on the upgrade; never logged. Empty = no header. */
  authToken: string;
  connectTimeoutMs: number;
  apologyText: string;
  /** Ping the bot this often; no pong by the next ping counts as the bot gone. */
  pingIntervalMs: number;
  /** Caller speech interrupts interruptible replies (BARGE_IN), told to the bot in its capabilities. */
  bargeIn: boolean;
}

/** Process-wide counters (the lead wires them to Prometheus). */
export interface RemoteBotStats {
  /** Calls whose bot connection could not be opened (refused, timeout, HTTP error). */
  connectFailures: number;
  /** Bot connections lost mid-call (closed, errored, ping timeout). */
  disconnects: number;
  /** Bot messages refused with an `error` reply. */
  invalidMessages: number;
  /** Gateway → bot messages dropped (queue full while connecting, or socket backed up). */
  droppedToBot: number;
  /** Bot → gateway messages dropped because the session's output queue was full. */
  droppedFromBot: number;
}

/** Messages queued for the bot while its socket connects; past this, newer ones are dropped and counted. */
const CONNECT_QUEUE_CAPACITY = 256;
/** Unsent bytes on the bot socket past which messages to the bot are dropped and counted. */
const SEND_WATERMARK_BYTES = 1024 * 1024;
/** Outputs waiting for the session; the last few places are kept for the apology and hangup. */
const OUTPUT_CAPACITY = 512;
const APOLOGY_RESERVE = 4;
/** How long a closing bot socket may take to answer our close frame before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** The URL without credentials or query, for logs. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

class RemoteBotSession implements BotSession {
  readonly output = new Channel<BotOutput>(OUTPUT_CAPACITY, 'drop-newest');
  private ws: WebSocket | undefined;
  private readonly queue: string[] = [];
  private readonly says = new SayAssembler();
  private connectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private connected = false;
  private lastError = '';
  /** The bot asked to hang up: its socket going away now is not a failure. */
  private hangupSeen = false;
  /** A transfer of the bot's was carried out: the call ending now is the transfer. */
  private transferred = false;
  private failed = false;
  private closedFlag = false;
  /** The subprotocol the bot answered on the upgrade (undefined: none, a 1.0 bot). */
  private subprotocol: string | undefined;
  /** The bot answered the 1.1 subprotocol. */
  private v11 = false;
  private readonly capabilities: SidecarCapabilities;

  constructor(
    private readonly o: BotSessionOptions,
    private readonly opts: RemoteBotOptions,
    private readonly log: Logger,
    private readonly stats: RemoteBotStats,
    private readonly onClosed: (s: RemoteBotSession) => void,
  ) {
    this.capabilities = {
      asr: o.hasAsr,
      tts: o.hasTts,
      callControl: !!o.hasCallControl,
      bargeIn: opts.bargeIn,
      playSampleRatesHz: PLAY_SAMPLE_RATES_HZ,
      maxMessageBytes: MAX_BOT_MESSAGE_BYTES,
      maxSayChars: MAX_SAY_CHARS,
    };
  }

  /** Open the bot socket (called once by the adapter's `start`). */
  open(): void {
    if (this.o.signal.aborted) return this.close();
    this.o.signal.addEventListener('abort', () => this.close(), { once: true });
    const callId = this.o.call.callId;
    // The subprotocol is offered as a raw header, not through `ws`'s `protocols`: `ws` refuses a server that answers
    // none (every 1.0 bot) or one it did not offer, where the gateway must accept the first and explain the second.
    const headers: Record<string, string> = {
      'sec-websocket-protocol': SIDECAR_SUBPROTOCOL,
      'x-vonage-call-id': callId,
      'x-vonage-gateway-protocol': SIDECAR_PROTOCOL_FULL_VERSION,
    };
    if (this.opts.authToken) headers.authorization = `Bearer ${this.opts.authToken}`;
    let ws: WebSocket;
    try {
      const url = new URL(this.opts.url);
      url.searchParams.set('callId', callId);
      ws = new WebSocket(url, { headers, maxPayload: HARD_MAX_BOT_MESSAGE_BYTES, perMessageDeflate: false });
    } catch (err) {
      this.stats.connectFailures++;
      return this.fail('bot connect failed', (err as Error).message);
    }
    this.ws = ws;
    // `upgrade` comes before `ws` checks the answer: take the subprotocol here, and hide it from that check.
    ws.on('upgrade', (res) => {
      const p = res.headers['sec-websocket-protocol'];
      this.subprotocol = typeof p === 'string' ? p.trim() : undefined;
      delete res.headers['sec-websocket-protocol'];
    });
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      this.lastError = `no connection within ${this.opts.connectTimeoutMs} ms`;
      ws.terminate();
    }, this.opts.connectTimeoutMs);
    ws.on('open', () => this.onOpen());
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('error', (err) => (this.lastError ||= err.message)); // the first error says why (a timeout's terminate adds its own)
    ws.on('close', (code, reason) => this.onSocketClose(code, reason.toString()));
  }

  input(e: BotInput): void {
    if (this.closedFlag || this.failed) return;
    if (e.type === 'action-result' && e.ok && e.action === 'transfer') this.transferred = true;
    const m = gatewayMessageFor(e, this.o.call, this.capabilities, this.v11);
    if (m) this.send(m);
  }

  /** End of the call: `call.ended`, then close the bot socket with 1000. Idempotent. */
  close(reason?: string): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.clearTimers();
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      if (this.connected) ws.send(JSON.stringify(callEndedFor(reason, { failed: this.failed, hangupSeen: this.hangupSeen, transferred: this.transferred })));
      ws.close(1000, 'call ended');
      // A bot that never answers the close frame is cut off after a grace period.
      this.closeTimer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    } else if (ws && ws.readyState === WebSocket.CONNECTING) ws.terminate();
    this.queue.length = 0;
    this.output.close();
    if (!ws || ws.readyState === WebSocket.CLOSED) this.onClosed(this);
  }

  private onOpen(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const ws = this.ws as WebSocket;
    if (this.closedFlag) return;
    const p = this.subprotocol;
    if (p !== undefined && p !== SIDECAR_SUBPROTOCOL) return this.refuseProtocol(ws, p);
    this.v11 = p === SIDECAR_SUBPROTOCOL;
    this.connected = true;
    this.log.info({ url: safeUrl(this.opts.url), queued: this.queue.length, protocol: this.v11 ? SIDECAR_PROTOCOL_FULL_VERSION : '1.0' }, 'bot connected');
    for (const m of this.queue) ws.send(m);
    this.queue.length = 0;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        this.lastError = `no pong within ${this.opts.pingIntervalMs} ms`;
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
    }, this.opts.pingIntervalMs);
  }

  /** The bot answered a subprotocol the gateway does not speak: tell it why, close, and apologise to the caller. */
  private refuseProtocol(ws: WebSocket, answered: string): void {
    const why = `the bot answered subprotocol "${answered.slice(0, 64)}"; this gateway speaks ${SIDECAR_SUBPROTOCOL} (protocol ${SIDECAR_PROTOCOL_FULL_VERSION}), or none for 1.0`;
    this.stats.connectFailures++;
    ws.send(JSON.stringify({ type: 'error', code: 'UNSUPPORTED_PROTOCOL', reason: why } satisfies GatewayMessage));
    ws.close(1002, 'unsupported subprotocol');
    this.fail('bot connect failed', why);
  }

  private onSocketClose(code: number, reason: string): void {
    this.clearTimers();
    if (this.closedFlag) return this.onClosed(this);
    if (this.failed) return; // already apologising (a refused subprotocol)
    if (!this.connected) {
      this.stats.connectFailures++;
      return this.fail('bot connect failed', this.lastError || `closed with ${code}`);
    }
    if (this.hangupSeen) return; // the call is ending at the bot's request
    this.stats.disconnects++;
    const detail = `bot socket closed with ${code}${reason ? ` (${reason})` : ''}${this.lastError ? `: ${this.lastError}` : ''}`;
    this.fail('bot disconnected mid-call', detail);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closedFlag || this.failed) return;
    const r = parseBotMessage(data, isBinary);
    if (!r.ok) {
      this.stats.invalidMessages++;
      this.log.warn({ code: r.error.code, reason: r.error.reason, inReplyTo: r.error.inReplyTo }, 'invalid bot message ignored');
      this.send(r.error);
      return;
    }
    const m = r.message;
    if (m.type === 'say') return this.onSay(m);
    if (m.type === 'clear') this.says.reset();
    else {
      // Any other message ends the reply being streamed.
      const rest = this.says.flush();
      if (rest) this.emit(rest, 'say');
    }
    if (m.type === 'hangup') this.hangupSeen = true;
    if (m.type === 'transfer' && 'phone' in m) return this.emit({ type: 'transfer', ncco: transferNcco(m.phone, m.from, this.o.call) }, m.type);
    this.emit(m, m.type);
  }

  private onSay(m: Extract<BotMessage, { type: 'say' }>): void {
    const choices = { id: m.id, language: m.language, voice: m.voice };
    const conflict = this.says.conflict(choices);
    if (conflict) return this.refuse('INVALID_MESSAGE', conflict, m.type, m.id);
    // Without TTS a say cannot be spoken: a 1.1 bot is told (and the text is not queued); a 1.0 bot never was.
    if (!this.o.hasTts && this.v11) return this.refuse('NO_TTS', 'this gateway has no TTS: say cannot be spoken (play audio instead)', m.type, m.id);
    const out = this.says.push(m.text, m.end !== false, m.interruptible, choices);
    if (out) this.emit(out, m.type);
  }

  private refuse(code: 'INVALID_MESSAGE' | 'NO_TTS', reason: string, inReplyTo: string, id: string | undefined): void {
    this.stats.invalidMessages++;
    this.log.warn({ code, reason, inReplyTo }, 'bot message refused');
    this.send({ type: 'error', code, reason, inReplyTo, ...(id === undefined ? {} : { id }) });
  }

  private emit(out: BotOutput, type: string): void {
    // Room is kept for the apology: past the reserve, bot messages are refused (the bot is told).
    if (this.output.size >= OUTPUT_CAPACITY - APOLOGY_RESERVE || !this.output.push(out)) {
      this.stats.droppedFromBot++;
      const id = out.type === 'say' || out.type === 'play' ? out.id : undefined;
      this.send({
        type: 'error',
        code: 'OVERLOADED',
        reason: 'too many messages waiting: this one was dropped',
        inReplyTo: type,
        ...(id === undefined ? {} : { id }),
      });
    }
  }

  private send(m: GatewayMessage): void {
    const ws = this.ws;
    if (this.connected && ws && ws.readyState === WebSocket.OPEN) {
      if (ws.bufferedAmount > SEND_WATERMARK_BYTES) {
        this.stats.droppedToBot++;
        return;
      }
      ws.send(JSON.stringify(m));
    } else if (!this.connected && !this.failed) {
      if (this.queue.length >= CONNECT_QUEUE_CAPACITY) this.stats.droppedToBot++;
      else this.queue.push(JSON.stringify(m));
    }
  }

  /** The bot is unreachable or gone: say the apology, then hang up once it has played. Once per call. */
  private fail(what: string, detail: string): void {
    if (this.failed || this.closedFlag) return;
    this.failed = true;
    this.queue.length = 0;
    this.log.warn({ url: safeUrl(this.opts.url), reason: detail }, `${what}: apologising and hanging up`);
    // A reply the bot was still streaming will never be finished: cut it; a finished one may play out.
    if (this.says.replyOpen) this.output.push({ type: 'clear' });
    this.says.reset();
    this.output.push({ type: 'say', text: this.opts.apologyText, end: true, interruptible: false });
    this.output.push({ type: 'hangup', reason: 'bot unavailable' });
  }

  private clearTimers(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.connectTimer = this.pingTimer = this.closeTimer = undefined;
  }
}

/** The adapter: one {@link RemoteBotSession} (one bot socket) per call. */
export function createRemoteBot(ctx: AdapterContext): BotAdapter & { readonly stats: RemoteBotStats } {
  const { bot, leg, turn } = ctx.sections;
  const opts: RemoteBotOptions = {
    url: bot.botUrl,
    authToken: bot.botAuthToken,
    connectTimeoutMs: bot.botConnectTimeoutMs,
    apologyText: bot.botApologyText,
    pingIntervalMs: leg.pingIntervalMs,
    bargeIn: turn.bargeIn,
  };
  if (!/^wss?:\/\//i.test(opts.url)) throw new GatewayError('ADAPTER_LOAD_FAILED', 'BOT_ADAPTER=remote needs BOT_URL (ws:// or wss://)');
  // Checked here rather than in the config, whose error messages quote the value.
  if (!/^[\x21-\x7e]*$/.test(opts.authToken))
    throw new GatewayError('ADAPTER_LOAD_FAILED', 'BOT_AUTH_TOKEN has characters not allowed in an HTTP header (printable ASCII, no spaces)');
  const stats: RemoteBotStats = { connectFailures: 0, disconnects: 0, invalidMessages: 0, droppedToBot: 0, droppedFromBot: 0 };
  const live = new Set<RemoteBotSession>();
  ctx.logger.info({ url: safeUrl(opts.url), auth: !!opts.authToken, connectTimeoutMs: opts.connectTimeoutMs }, 'remote bot adapter ready');
  return {
    name: 'remote',
    capabilities: { wantsUtteranceAudio: false },
    stats,
    start(o) {
      const s = new RemoteBotSession(o, opts, ctx.logger.child({ call: o.call.callId }), stats, (x) => live.delete(x));
      live.add(s);
      s.open();
      return s;
    },
    close() {
      for (const s of live) s.close('gateway shutting down');
    },
  };
}
