/**
 * A local fake of Cartesia's TTS WebSocket (`/tts/websocket`), for driving the real `@cartesia/cartesia-js` (`TTSWS`)
 * on loopback (`CARTESIA_URL=ws://127.0.0.1:PORT`).
 *
 * Wire protocol as documented by Cartesia: the handshake carries `Authorization: Bearer <key>` (or `?api_key=`) and a
 * `Cartesia-Version`; text frames are generation requests (`model_id`, `transcript`, `voice {mode:'id', id}`,
 * `language`, `context_id`, `output_format {container:'raw', encoding, sample_rate}`, `continue`) or
 * `{context_id, cancel:true}`. Inputs on one context must keep every field but `transcript` and `continue` the same
 * (else an `error`); their transcripts are concatenated verbatim. Answers: `{type:'chunk', data:<base64 PCM>,
 * done:false, status_code:206, step_time, context_id}` …, then `{type:'done', done:true, status_code:206, context_id}`;
 * failures are `{type:'error', done:true, status_code, title, message, error_code, context_id}`.
 *
 * Speech is a tone per word (100 ms of `toneHz` each, in `chunkMs` chunks at the requested rate and encoding
 * pcm_s16le). A word is spoken as soon as it is complete — followed by a space or punctuation in the text received so
 * far — so with continuations the first audio leaves before the sentence is complete; `continue:false` speaks the
 * rest and ends the context. Chunks are paced `chunkGapMs` apart so a cancel can cut a generation short. Faults on
 * cue: refuse handshakes with a status, answer the next context with an error status, or drop the socket (TCP
 * destroyed, no close frame) after N chunks.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import { startVendorServer } from './ws-vendor-server.js';
import { must } from '../helpers/must.js';

export const WORD_MS = 100;

/** A fault for a new context: the first one whose first transcript includes `match` (any, when absent). */
export type FakeCartesiaFault = ({ action: 'error'; status: number; title?: string } | { action: 'drop'; afterChunks: number }) & { match?: string };

export interface FakeCartesiaOptions {
  /** The API key handshakes must carry. Default `cartesia-test-key`. */
  key?: string;
  /** Voice ids that exist; another gets a 404 error. Undefined: any. */
  voices?: string[];
  toneHz?: number;
  /** ms of audio per chunk message (default 40). */
  chunkMs?: number;
  /** ms between chunk messages (default 2). */
  chunkGapMs?: number;
  /** Statuses to refuse the next handshakes with, one per handshake. */
  refuse?: number[];
  /** Faults for the next contexts opened, one per context, in order (see {@link FakeCartesiaFault}). */
  faults?: FakeCartesiaFault[];
}

export interface FakeCartesiaContext {
  id: string;
  connection: number;
  /** Every generation request on it, as received. */
  requests: Array<Record<string, unknown>>;
  transcript: string;
  cancelled: boolean;
  done: boolean;
  chunksSent: number;
  /** Words spoken, in order. */
  words: string[];
  /** The PCM of every chunk sent, in order. */
  pcm: Buffer[];
  /** Chunks sent before the last request arrived (with continuations: audio before the text was complete). */
  chunksBeforeLastInput: number;
}

export interface FakeCartesiaConnection {
  index: number;
  headers: IncomingMessage['headers'];
  closed: boolean;
}

export interface FakeCartesia {
  url: string;
  port: number;
  connections: FakeCartesiaConnection[];
  contexts: Map<string, FakeCartesiaContext>;
  refused: number;
  close(): Promise<void>;
}

const SAME_FIELDS = ['model_id', 'voice', 'language', 'output_format'];

export async function startFakeCartesia(o: FakeCartesiaOptions = {}): Promise<FakeCartesia> {
  const key = o.key ?? 'cartesia-test-key';
  const refuse = o.refuse ?? [];
  const faults = o.faults ?? [];
  const connections: FakeCartesiaConnection[] = [];
  const contexts = new Map<string, FakeCartesiaContext>();
  const server = await startVendorServer(
    (req, url) => {
      if (url.pathname !== '/tts/websocket') return { status: 404, message: 'not found' };
      if (req.headers.authorization !== `Bearer ${key}` && url.searchParams.get('api_key') !== key) return { status: 401, message: 'Invalid API key' };
      const status = refuse.shift();
      return status === undefined ? undefined : { status, message: `refused on cue with ${status}` };
    },
    (ws, req) => serve(ws, req.headers),
  );

  function serve(ws: WebSocket, headers: IncomingMessage['headers']): void {
    const conn: FakeCartesiaConnection = { index: connections.length + 1, headers, closed: false };
    connections.push(conn);
    /** Per context: text received and not yet spoken, whether the input is over, the queue of PCM to send. */
    const live = new Map<string, { pending: string; final: boolean; queue: Buffer[]; sending: boolean; rate: number; fault: FakeCartesiaFault | undefined }>();
    const send = (m: Record<string, unknown>) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
    };
    const fail = (ctxId: string, status: number, title: string, message: string) => {
      send({ type: 'error', done: true, status_code: status, title, message, error_code: title.toLowerCase().replace(/\W+/g, '_'), context_id: ctxId });
      const c = contexts.get(ctxId);
      if (c) c.done = true;
      live.delete(ctxId);
    };
    const tone = (rate: number, words: number): Buffer => {
      const n = Math.round((rate * WORD_MS) / 1000) * words;
      const b = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * (o.toneHz ?? 440) * i) / rate)), i * 2);
      return b;
    };
    const pump = (ctxId: string) => {
      const l = live.get(ctxId);
      const c = contexts.get(ctxId);
      if (!l || !c || l.sending) return;
      const next = l.queue.shift();
      if (!next) {
        if (l.final && l.pending === '') {
          c.done = true;
          live.delete(ctxId);
          send({ type: 'done', done: true, status_code: 206, context_id: ctxId });
        }
        return;
      }
      l.sending = true;
      setTimeout(() => {
        l.sending = false;
        if (c.cancelled || !live.has(ctxId)) return;
        c.chunksSent++;
        c.pcm.push(next);
        send({ type: 'chunk', data: next.toString('base64'), done: false, status_code: 206, step_time: 1, context_id: ctxId });
        if (l.fault?.action === 'drop' && c.chunksSent >= l.fault.afterChunks) {
          (ws as unknown as { _socket: Socket })._socket.destroy();
          return;
        }
        pump(ctxId);
      }, o.chunkGapMs ?? 2);
    };
    const speak = (ctxId: string) => {
      const l = live.get(ctxId)!;
      const c = contexts.get(ctxId)!;
      // Complete words: followed by whitespace or punctuation; all of it once the input is over.
      const m = l.final ? [l.pending, l.pending, ''] : /^(.*[\s.,!?;:])(\S*)$/s.exec(l.pending);
      if (!m) return;
      const words = must(m[1])
        .split(/[^\p{L}\p{N}']+/u)
        .filter(Boolean);
      l.pending = m[2] ?? '';
      if (l.final) l.pending = '';
      c.words.push(...words);
      const pcm = tone(l.rate, words.length);
      const chunkBytes = Math.round((l.rate * (o.chunkMs ?? 40)) / 1000) * 2;
      for (let off = 0; off < pcm.length; off += chunkBytes) l.queue.push(pcm.subarray(off, off + chunkBytes));
      pump(ctxId);
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        send({ type: 'error', done: true, status_code: 400, title: 'Invalid JSON', message: 'could not parse the message' });
        return;
      }
      const ctxId = typeof m.context_id === 'string' ? m.context_id : '';
      if (m.cancel === true) {
        const c = contexts.get(ctxId);
        if (c) c.cancelled = true;
        live.delete(ctxId);
        return;
      }
      let c = contexts.get(ctxId);
      if (!c) {
        c = {
          id: ctxId,
          connection: conn.index,
          requests: [],
          transcript: '',
          cancelled: false,
          done: false,
          chunksSent: 0,
          words: [],
          pcm: [],
          chunksBeforeLastInput: 0,
        };
        contexts.set(ctxId, c);
        const fmt = m.output_format as { container?: string; encoding?: string; sample_rate?: number } | undefined;
        const first = typeof m.transcript === 'string' ? m.transcript : '';
        const fi = faults.findIndex((f) => f.match === undefined || first.includes(f.match));
        const fault = fi >= 0 ? faults.splice(fi, 1)[0] : undefined;
        live.set(ctxId, { pending: '', final: false, queue: [], sending: false, rate: fmt?.sample_rate ?? 44100, fault });
        c.requests.push(m);
        if (fmt?.container !== 'raw' || fmt.encoding !== 'pcm_s16le' || ![8000, 16000, 22050, 24000, 44100, 48000].includes(fmt.sample_rate ?? 0))
          return fail(ctxId, 400, 'Invalid output format', 'raw pcm_s16le at a supported rate only');
        const voice = m.voice as { mode?: string; id?: string } | undefined;
        if (voice?.mode !== 'id' || (o.voices && !o.voices.includes(voice.id ?? ''))) return fail(ctxId, 404, 'Voice not found', `no voice ${voice?.id}`);
        if (fault?.action === 'error') return fail(ctxId, fault.status, fault.title ?? 'Injected', `failed on cue with ${fault.status}`);
      } else {
        c.requests.push(m);
        const first = must(c.requests[0]);
        if (SAME_FIELDS.some((f) => JSON.stringify(first[f]) !== JSON.stringify(m[f])))
          return fail(ctxId, 400, 'Invalid continuation', 'inputs on a context must keep every field but transcript and continue');
      }
      const l = live.get(ctxId);
      if (!l || c.done || c.cancelled) return;
      c.chunksBeforeLastInput = c.chunksSent;
      const text = typeof m.transcript === 'string' ? m.transcript : '';
      c.transcript += text;
      l.pending += text;
      if (m.continue !== true) l.final = true;
      speak(ctxId);
    });
    ws.on('close', () => {
      conn.closed = true;
      live.clear();
    });
  }

  return {
    url: server.url,
    port: server.port,
    connections,
    contexts,
    get refused() {
      return server.refused;
    },
    close: () => server.close(),
  };
}
