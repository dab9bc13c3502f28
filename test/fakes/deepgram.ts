/**
 * A local fake of Deepgram's live transcription WebSocket (`/v1/listen`, listen v1), for driving the real
 * `@deepgram/sdk` on loopback (`new DeepgramClient({ baseUrl: 'ws://127.0.0.1:PORT' })`, i.e. `DEEPGRAM_URL`).
 *
 * Wire protocol as documented by Deepgram: the handshake carries `Authorization: Token <key>` and the options as query
 * parameters (model, language, encoding, sample_rate, channels, interim_results, endpointing, utterance_end_ms,
 * vad_events); a refused handshake is an HTTP status with a `dg-error` header and the message as body. Then binary
 * frames are audio, text frames are `{"type":"KeepAlive"}`, `{"type":"Finalize"}` or `{"type":"CloseStream"}`; the
 * service answers with `Results` (`is_final`, `speech_final`, `from_finalize`, `start`/`duration` in seconds of this
 * connection's audio, `channel.alternatives[0].transcript`), `SpeechStarted`, `UtteranceEnd` and, on CloseStream,
 * `Metadata` and a 1000 close. With neither audio nor a text frame for `netTimeoutMs` it closes 1011 `NET-0001`.
 *
 * Recognition is a tiny rule: utterances are found by energy (20 ms frames above an RMS threshold), an utterance ends
 * after `endpointing` ms of quiet (a `speech_final` result), an `UtteranceEnd` follows after `utterance_end_ms`; the
 * transcript of utterance k is `text(k)` (interims are its first words). Faults on cue: refuse handshakes with a status,
 * drop a connection (TCP destroyed, no close frame: 1006 at the client) or close it with a code after N audio bytes.
 */
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import { startVendorServer, type Refusal } from './ws-vendor-server.js';

export interface FakeDeepgramFault {
  /** 1-based index among accepted connections. */
  connection: number;
  /** Fire once this many audio bytes have arrived on that connection. */
  afterBytes: number;
  /** `drop`: destroy the TCP socket; `close`: a close frame with `code` and `reason`. */
  action: 'drop' | 'close';
  code?: number;
  reason?: string;
}

export interface FakeDeepgramOptions {
  /** The key a handshake must carry (`Authorization: Token <key>`). Default `dg-test-key`. */
  key?: string;
  /** Transcript of utterance k (1-based, counted per connection). Default `utterance k`. */
  text?: (k: number) => string;
  /** Close 1011 NET-0001 after this long without audio or a text frame. Default 10000. */
  netTimeoutMs?: number;
  /** Statuses to refuse the next handshakes with, consumed one per handshake. */
  refuse?: number[];
  faults?: FakeDeepgramFault[];
  /** Frame RMS above which a frame counts as speech. Default 300. */
  speechRms?: number;
}

export interface FakeDeepgramConnection {
  index: number;
  query: URLSearchParams;
  authorization: string | undefined;
  audio: Buffer[];
  audioBytes: number;
  keepAlives: number;
  finalizes: number;
  closeStream: boolean;
  /** Messages the fake sent, parsed. */
  sent: Array<Record<string, unknown>>;
  closed: boolean;
  pcm(): Buffer;
}

export interface FakeDeepgram {
  url: string;
  port: number;
  connections: FakeDeepgramConnection[];
  /** Handshakes refused (bad key or on cue). */
  refused: number;
  close(): Promise<void>;
}

export async function startFakeDeepgram(o: FakeDeepgramOptions = {}): Promise<FakeDeepgram> {
  const key = o.key ?? 'dg-test-key';
  const refuse = o.refuse ?? [];
  const faults = o.faults ?? [];
  const connections: FakeDeepgramConnection[] = [];
  const server = await startVendorServer(
    (req, url) => {
      const dgError = (status: number, message: string): Refusal => ({
        status,
        message,
        headers: { 'dg-error': message },
        body: JSON.stringify({ err_code: status === 401 ? 'INVALID_AUTH' : 'REFUSED', err_msg: message, request_id: 'fake' }),
      });
      if (url.pathname !== '/v1/listen') return dgError(404, 'no such path');
      if (req.headers.authorization !== `Token ${key}`) return dgError(401, 'Invalid credentials.');
      const status = refuse.shift();
      return status === undefined ? undefined : dgError(status, `refused on cue with ${status}`);
    },
    (ws, req, url) => serve(ws, url.searchParams, req.headers.authorization),
  );

  function serve(ws: WebSocket, query: URLSearchParams, authorization: string | undefined): void {
    const conn: FakeDeepgramConnection = {
      index: connections.length + 1,
      query,
      authorization,
      audio: [],
      audioBytes: 0,
      keepAlives: 0,
      finalizes: 0,
      closeStream: false,
      sent: [],
      closed: false,
      pcm: () => Buffer.concat(conn.audio),
    };
    connections.push(conn);
    const rate = Number(query.get('sample_rate') ?? 16000);
    const frameBytes = (rate / 50) * 2;
    const endpointingMs = Number(query.get('endpointing') ?? 10);
    const utteranceEndMs = query.has('utterance_end_ms') ? Number(query.get('utterance_end_ms')) : undefined;
    const interim = query.get('interim_results') === 'true';
    const vadEvents = query.get('vad_events') === 'true';
    const threshold = o.speechRms ?? 300;
    let carry = Buffer.alloc(0);
    let frames = 0;
    let k = 0;
    let inSpeech = false;
    let uttStart = 0;
    let lastVoiced = 0;
    let voicedFrames = 0;
    let pendingUtteranceEnd: number | undefined;
    const send = (m: Record<string, unknown>) => {
      conn.sent.push(m);
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
    };
    const results = (transcript: string, start: number, end: number, isFinal: boolean, speechFinal: boolean, fromFinalize = false) =>
      send({
        type: 'Results',
        channel_index: [0, 1],
        duration: Math.max(0, end - start),
        start,
        is_final: isFinal,
        speech_final: speechFinal,
        ...(fromFinalize ? { from_finalize: true } : {}),
        channel: { alternatives: [{ transcript, confidence: 0.97, words: [] }] },
        metadata: { request_id: 'fake-request', model_info: { name: query.get('model') ?? 'nova-3', version: 'fake', arch: 'fake' }, model_uuid: 'fake-model' },
      });
    const textOf = (n: number) => (o.text ? o.text(n) : `utterance ${n}`);
    const endUtterance = (fromFinalize: boolean) => {
      k++;
      results(textOf(k), uttStart, lastVoiced, true, !fromFinalize, fromFinalize);
      inSpeech = false;
      pendingUtteranceEnd = lastVoiced;
    };
    let netTimer: NodeJS.Timeout | undefined;
    const armNet = () => {
      if (netTimer) clearTimeout(netTimer);
      netTimer = setTimeout(
        () => ws.close(1011, 'NET-0001: Deepgram did not receive audio data or a text message within the timeout window.'),
        o.netTimeoutMs ?? 10000,
      );
    };
    armNet();
    const frame = (f: Buffer) => {
      let sum = 0;
      for (let i = 0; i + 1 < f.length; i += 2) {
        const v = f.readInt16LE(i);
        sum += v * v;
      }
      const rms = Math.sqrt(sum / (f.length / 2));
      const t0 = frames * 0.02;
      frames++;
      const t1 = frames * 0.02;
      if (rms > threshold) {
        if (!inSpeech) {
          inSpeech = true;
          uttStart = t0;
          voicedFrames = 0;
          pendingUtteranceEnd = undefined;
          if (vadEvents) send({ type: 'SpeechStarted', channel: [0, 1], timestamp: t0 });
        }
        lastVoiced = t1;
        voicedFrames++;
        if (interim && voicedFrames % 10 === 0) {
          const words = textOf(k + 1).split(' ');
          results(words.slice(0, Math.max(1, Math.min(words.length - 1, voicedFrames / 25))).join(' '), uttStart, t1, false, false);
        }
      } else if (inSpeech && (t1 - lastVoiced) * 1000 >= endpointingMs) endUtterance(false);
      else if (pendingUtteranceEnd !== undefined && utteranceEndMs !== undefined && (t1 - pendingUtteranceEnd) * 1000 >= utteranceEndMs) {
        send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: pendingUtteranceEnd });
        pendingUtteranceEnd = undefined;
      }
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      armNet();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (!isBinary) {
        let m: { type?: string };
        try {
          m = JSON.parse(buf.toString('utf8')) as { type?: string };
        } catch {
          ws.close(1008, 'DATA-0000: The payload cannot be decoded as audio.');
          return;
        }
        if (m.type === 'KeepAlive') conn.keepAlives++;
        else if (m.type === 'Finalize') {
          conn.finalizes++;
          if (inSpeech) endUtterance(true);
        } else if (m.type === 'CloseStream') {
          conn.closeStream = true;
          if (inSpeech) endUtterance(false);
          send({
            type: 'Metadata',
            transaction_key: 'deprecated',
            request_id: 'fake-request',
            sha256: '',
            created: new Date().toISOString(),
            duration: frames * 0.02,
            channels: 1,
          });
          ws.close(1000);
        }
        return;
      }
      if (buf.length === 0) {
        ws.close(1008, 'DATA-0000: The payload cannot be decoded as audio.');
        return;
      }
      conn.audio.push(buf);
      conn.audioBytes += buf.length;
      let all = carry.length ? Buffer.concat([carry, buf]) : buf;
      while (all.length >= frameBytes) {
        frame(all.subarray(0, frameBytes));
        all = all.subarray(frameBytes);
      }
      carry = Buffer.from(all);
      const fault = faults.find((f) => f.connection === conn.index && conn.audioBytes >= f.afterBytes);
      if (fault) {
        faults.splice(faults.indexOf(fault), 1);
        if (fault.action === 'drop') (ws as unknown as { _socket: Socket })._socket.destroy();
        else ws.close(fault.code ?? 1011, fault.reason ?? '');
      }
    });
    ws.on('close', () => {
      conn.closed = true;
      if (netTimer) clearTimeout(netTimer);
    });
  }

  return {
    url: server.url,
    port: server.port,
    connections,
    get refused() {
      return server.refused;
    },
    close: () => server.close(),
  };
}
