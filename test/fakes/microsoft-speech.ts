/**
 * A local fake of the Azure Speech service's WebSocket ("USP") protocol, for driving the real
 * `microsoft-cognitiveservices-speech-sdk` on loopback (point it there with `SpeechConfig.fromHost(ws://127.0.0.1:PORT)`,
 * i.e. `AZURE_SPEECH_HOST`).
 *
 * Framing: text = `Name: value\r\n` headers, a blank line, a JSON body; binary = 2-byte big-endian header length,
 * ASCII headers, body. Every reply echoes the connection's current `X-RequestId` (the SDK drops anything else).
 *
 * Recognition (`/speech/recognition/…`): records `speech.config`, `speech.context` (language, phrase list), the RIFF
 * header (rate) and every PCM byte per connection. Scripted mode: a `speech.hypothesis` when a segment is half done and
 * a `speech.phrase` each `finalEveryMs` of audio received on that connection (Offset/Duration in 100-ns ticks relative
 * to that connection's audio, as the service does); on the empty audio message, a last phrase for any unfinalised
 * audio, then `speech.endDetected` and `turn.end`. Failures on cue (`failures`): after N PCM bytes on connection K,
 * close the socket abruptly (TCP end, no close frame: the SDK sees 1006), close with a WebSocket code, or send a
 * `speech.phrase` with an error `RecognitionStatus` (the SDK turns it into `canceled` with an error code).
 *
 * Synthesis (`/tts/…`): records the SSML and the requested `outputFormat`, answers `turn.start`, `response` (with a
 * streamId), `ttsFrames` binary audio frames of a tone at the format's rate with `X-StreamId`, then `turn.end`.
 * `ttsHoldAfterFrames` pauses after that many frames until {@link FakeMicrosoftSpeech.release} (so a test can see a
 * chunk arrive before the last frame is sent without relying on timing).
 *
 * Upgrades with a wrong `Ocp-Apim-Subscription-Key` (when `key` is set) are refused with HTTP 401.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

/** 100-ns ticks per second. */
const TICKS_PER_S = 10_000_000;

export interface FakeFailure {
  /** 1-based index among recognition connections. */
  connection: number;
  /** Fire once this many PCM bytes have been received on that connection. */
  afterBytes: number;
  /**
   * `close`: end the TCP socket with no close frame (abrupt; the SDK reconnects by itself and replays).
   * `close-code`: a WebSocket close frame with `code` (1007 → BadRequestParameters, 4000 → ConnectionFailure …).
   * `status`: a `speech.phrase` with `RecognitionStatus` = `status` (Error → ServiceError, TooManyRequests,
   * BadRequest → BadRequestParameters, Forbidden).
   */
  action: 'close' | 'close-code' | 'status';
  code?: number;
  status?: 'Error' | 'TooManyRequests' | 'BadRequest' | 'Forbidden';
}

export interface FakeMicrosoftSpeechOptions {
  /** Required subscription key; a different one gets 401. Undefined: any key (or none) is accepted. */
  key?: string;
  /** A final result after each this many ms of audio on a connection (default 1000). */
  finalEveryMs?: number;
  /** Text of the n-th final (0-based, counted over the whole fake) on a connection. Default `phrase <n+1>`. */
  text?: (n: number, conn: FakeConnection) => string;
  /** Failures to inject, each fires once. */
  failures?: FakeFailure[];
  /** Synthesis: audio frames per request (default 5) and ms of audio per frame (default 100). */
  ttsFrames?: number;
  ttsFrameMs?: number;
  /** Synthesis: tone frequency (default 440 Hz). */
  ttsToneHz?: number;
  /** Synthesis: after this many frames, wait for `release()` before sending the rest. */
  ttsHoldAfterFrames?: number;
  /** Synthesis: after this many frames, end the socket abruptly (no close frame, no turn.end). */
  ttsCloseAfterFrames?: number;
}

export interface FakeConnection {
  /** 1-based index among connections of its kind. */
  index: number;
  kind: 'recognition' | 'synthesis';
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Paths of the messages the client sent, in order (`audio` for every binary audio message). */
  messages: string[];
  speechConfig?: unknown;
  speechContext?: { phraseDetection?: { language?: string }; dgi?: unknown; [k: string]: unknown };
  /** Language from speech.context (`phraseDetection.language`), else from the query string. */
  language?: string;
  /** Phrase-list phrases found in speech.context. */
  phrases: string[];
  /** Rate from the RIFF header. */
  rateHz?: number;
  /** Every PCM byte received (after the RIFF header), in order. */
  audio: Buffer[];
  audioBytes: number;
  /** Byte offset (in this connection's audio) up to which finals were sent. */
  finalizedBytes: number;
  /** Finals and hypotheses sent: text and byte range in this connection's audio. */
  results: Array<{ type: 'hypothesis' | 'phrase'; text: string; startByte: number; endByte: number }>;
  /** The empty audio message (end of stream) arrived. */
  ended: boolean;
  /** A failure was injected on this connection. */
  failed: boolean;
  /** Synthesis: the SSML and requested outputFormat; frames sent. */
  ssml?: string;
  outputFormat?: string;
  framesSent: number;
  /** Synthesis: the PCM of every audio frame sent, in order. */
  sent: Buffer[];
  /** The socket closed (either side). */
  closed: boolean;
  closedPromise: Promise<void>;
  /** All received PCM as one buffer. */
  pcm(): Buffer;
}

export interface FakeMicrosoftSpeech {
  port: number;
  /** `ws://127.0.0.1:PORT`, for `AZURE_SPEECH_HOST`. */
  host: string;
  connections: FakeConnection[];
  /** Upgrades refused with 401. */
  rejected: number;
  recognitions(): FakeConnection[];
  syntheses(): FakeConnection[];
  /** Let held synthesis frames go (see `ttsHoldAfterFrames`). */
  release(): void;
  close(): Promise<void>;
}

interface Parsed {
  headers: Record<string, string>;
  body: Buffer | string;
  binary: boolean;
}

function parseHeaders(text: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return h;
}

function parseMessage(data: RawData, isBinary: boolean): Parsed {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (!isBinary) {
    const s = buf.toString('utf8');
    const i = s.indexOf('\r\n\r\n');
    return { headers: parseHeaders(i < 0 ? s : s.slice(0, i)), body: i < 0 ? '' : s.slice(i + 4), binary: false };
  }
  const n = buf.readUInt16BE(0);
  return { headers: parseHeaders(buf.subarray(2, 2 + n).toString('ascii')), body: buf.subarray(2 + n), binary: true };
}

function timestamp(): string {
  return new Date().toISOString();
}

function textFrame(path: string, requestId: string, body: unknown, extra: Record<string, string> = {}): string {
  const h = { 'X-RequestId': requestId, 'Content-Type': 'application/json; charset=utf-8', Path: path, 'X-Timestamp': timestamp(), ...extra };
  return `${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${typeof body === 'string' ? body : JSON.stringify(body)}`;
}

function binaryFrame(path: string, requestId: string, body: Buffer, extra: Record<string, string> = {}): Buffer {
  const h = { 'X-RequestId': requestId, Path: path, 'X-Timestamp': timestamp(), 'Content-Type': 'audio/x-wav', ...extra };
  const head = Buffer.from(
    `${Object.entries(h)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n`,
    'ascii',
  );
  const len = Buffer.alloc(2);
  len.writeUInt16BE(head.length);
  return Buffer.concat([len, head, body]);
}

/** Rate of an Azure output format string: `raw-16khz-16bit-mono-pcm` → 16000, `raw-22050hz-…` → 22050. */
export function outputFormatRateHz(format: string): number {
  const k = /(\d+)khz/i.exec(format);
  if (k) return Number(k[1]) * 1000;
  const h = /(\d+)hz/i.exec(format);
  return h ? Number(h[1]) : 16000;
}

/** Phrases in a speech.context, wherever the SDK put them (`dgi.groups[].items[].text` or `.phrases[]`). */
function findPhrases(ctx: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (typeof v === 'string' && (key === 'text' || key === 'phrases')) out.push(v);
  };
  const dgi = (ctx as { dgi?: unknown; phraseDetection?: unknown })?.dgi;
  walk(dgi, '');
  return out;
}

const ticks = (bytes: number, rateHz: number): number => Math.round(((bytes / 2) * TICKS_PER_S) / rateHz);

export async function startFakeMicrosoftSpeech(opts: FakeMicrosoftSpeechOptions = {}): Promise<FakeMicrosoftSpeech> {
  const finalEveryMs = opts.finalEveryMs ?? 1000;
  // Read live (a test may add failures while the fake runs); each fires once.
  const failures = opts.failures ?? [];
  const fired = new WeakSet<FakeFailure>();
  const connections: FakeConnection[] = [];
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let released = false;
  let recoCount = 0;
  let synthCount = 0;
  let phraseCount = 0;
  let rejected = 0;

  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({
    server: http,
    perMessageDeflate: false,
    verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number, msg?: string) => void) => {
      const url = new URL(info.req.url ?? '/', 'http://x');
      const key = (info.req.headers['ocp-apim-subscription-key'] as string | undefined) ?? url.searchParams.get('Ocp-Apim-Subscription-Key') ?? undefined;
      if (opts.key !== undefined && key !== opts.key) {
        rejected++;
        cb(false, 401, 'Unauthorized');
        return;
      }
      cb(true);
    },
  });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const kind = url.pathname.startsWith('/tts/') ? 'synthesis' : 'recognition';
    let resolveClosed!: () => void;
    const conn: FakeConnection = {
      index: kind === 'synthesis' ? ++synthCount : ++recoCount,
      kind,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      messages: [],
      phrases: [],
      audio: [],
      audioBytes: 0,
      finalizedBytes: 0,
      results: [],
      ended: false,
      failed: false,
      framesSent: 0,
      sent: [],
      closed: false,
      closedPromise: new Promise<void>((r) => (resolveClosed = r)),
      pcm: () => Buffer.concat(conn.audio),
    };
    connections.push(conn);
    ws.on('close', () => {
      conn.closed = true;
      resolveClosed();
    });
    ws.on('error', () => {});
    let requestId = '';
    let turnStarted = false;
    let hypothesisSent = false;
    const send = (path: string, body: unknown, extra?: Record<string, string>) => {
      if (ws.readyState === ws.OPEN) ws.send(textFrame(path, requestId, body, extra));
    };

    const segment = (bytesPerMs: number) => Math.max(2, Math.round((finalEveryMs * bytesPerMs) / 2) * 2);

    const textFor = (n: number) => (opts.text ? opts.text(n, conn) : `phrase ${n + 1}`);
    const phrase = (endByte: number) => {
      const rate = conn.rateHz ?? 16000;
      const text = textFor(phraseCount);
      phraseCount++;
      const start = conn.finalizedBytes;
      send('speech.phrase', {
        RecognitionStatus: 'Success',
        DisplayText: text,
        Offset: ticks(start, rate),
        Duration: ticks(endByte - start, rate),
      });
      conn.results.push({ type: 'phrase', text, startByte: start, endByte });
      conn.finalizedBytes = endByte;
      hypothesisSent = false;
    };

    const fail = (f: FakeFailure) => {
      conn.failed = true;
      if (f.action === 'close') {
        // TCP FIN after what was already written (so a phrase sent just before still arrives); no close frame.
        req.socket.end();
      } else if (f.action === 'close-code') {
        ws.close(f.code ?? 1011, 'injected failure');
      } else {
        send('speech.phrase', { RecognitionStatus: f.status ?? 'Error', Offset: ticks(conn.finalizedBytes, conn.rateHz ?? 16000), Duration: 0 });
      }
    };

    const onAudio = (pcm: Buffer) => {
      conn.audio.push(Buffer.from(pcm));
      conn.audioBytes += pcm.length;
      const rate = conn.rateHz ?? 16000;
      const bytesPerMs = (rate * 2) / 1000;
      const seg = segment(bytesPerMs);
      while (conn.audioBytes - conn.finalizedBytes >= seg) phrase(conn.finalizedBytes + seg);
      if (!hypothesisSent && conn.audioBytes - conn.finalizedBytes >= seg / 2) {
        const start = conn.finalizedBytes;
        const end = start + Math.round(seg / 4) * 2;
        const text = textFor(phraseCount).split(' ')[0] ?? '';
        send('speech.hypothesis', { Text: text, Offset: ticks(start, rate), Duration: ticks(end - start, rate) });
        conn.results.push({ type: 'hypothesis', text, startByte: start, endByte: end });
        hypothesisSent = true;
      }
      for (const f of failures) {
        if (!fired.has(f) && f.connection === conn.index && conn.audioBytes >= f.afterBytes) {
          fired.add(f);
          fail(f);
          return;
        }
      }
    };

    const synthesize = async () => {
      const rate = outputFormatRateHz(conn.outputFormat ?? 'raw-16khz-16bit-mono-pcm');
      const streamId = randomBytes(16).toString('hex').toUpperCase();
      send('turn.start', { context: { serviceTag: randomBytes(8).toString('hex') } });
      send('response', { context: { serviceTag: 'fake' }, audio: { type: 'inline', streamId } });
      const frames = opts.ttsFrames ?? 5;
      const samples = Math.round(((opts.ttsFrameMs ?? 100) * rate) / 1000);
      const hz = opts.ttsToneHz ?? 440;
      let n = 0;
      for (let i = 0; i < frames; i++) {
        if (opts.ttsHoldAfterFrames !== undefined && i === opts.ttsHoldAfterFrames && !released) {
          await new Promise<void>((r) => held.push(r));
        }
        if (ws.readyState !== ws.OPEN) return;
        if (i === opts.ttsCloseAfterFrames) {
          conn.failed = true;
          req.socket.end();
          return;
        }
        const pcm = Buffer.alloc(samples * 2);
        for (let s = 0; s < samples; s++, n++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * n) / rate)), s * 2);
        ws.send(binaryFrame('audio', requestId, pcm, { 'X-StreamId': streamId }));
        conn.sent.push(pcm);
        conn.framesSent++;
        // Let the socket flush between frames, like a service producing audio over time.
        await new Promise((r) => setImmediate(r));
      }
      send('turn.end', {});
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (conn.failed) return;
      let m: Parsed;
      try {
        m = parseMessage(data, isBinary);
      } catch {
        ws.close(1007, 'bad framing');
        return;
      }
      if (m.headers['x-requestid']) requestId = m.headers['x-requestid'];
      const path = (m.headers.path ?? '').toLowerCase();
      conn.messages.push(path);
      if (path === 'speech.config') conn.speechConfig = JSON.parse(m.body as string);
      else if (path === 'speech.context') {
        conn.speechContext = JSON.parse(m.body as string) as FakeConnection['speechContext'];
        conn.language = conn.speechContext?.phraseDetection?.language ?? conn.query.get('language') ?? undefined;
        conn.phrases = findPhrases(conn.speechContext);
      } else if (path === 'synthesis.context') {
        const c = JSON.parse(m.body as string) as { synthesis?: { audio?: { outputFormat?: string } } };
        conn.outputFormat = c.synthesis?.audio?.outputFormat;
      } else if (path === 'ssml') {
        conn.ssml = m.body as string;
        void synthesize();
      } else if (path === 'audio' && m.binary) {
        const body = m.body as Buffer;
        if ((m.headers['content-type'] ?? '').includes('audio/x-wav') && body.length >= 44 && body.toString('ascii', 0, 4) === 'RIFF') {
          conn.rateHz = body.readUInt32LE(24);
          if (!turnStarted) {
            turnStarted = true;
            send('turn.start', { context: { serviceTag: randomBytes(8).toString('hex') } });
          }
          const rest = body.subarray(44);
          if (rest.length) onAudio(rest);
        } else if (body.length === 0) {
          conn.ended = true;
          if (conn.audioBytes > conn.finalizedBytes) phrase(conn.audioBytes);
          send('speech.endDetected', { Offset: ticks(conn.audioBytes, conn.rateHz ?? 16000) });
          send('turn.end', {});
        } else onAudio(body);
      }
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as { port: number }).port;
  const release = () => {
    released = true;
    for (const r of held.splice(0)) r();
  };
  return {
    port,
    host: `ws://127.0.0.1:${port}`,
    connections,
    get rejected() {
      return rejected;
    },
    recognitions: () => connections.filter((c) => c.kind === 'recognition'),
    syntheses: () => connections.filter((c) => c.kind === 'synthesis'),
    release,
    async close() {
      release();
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
