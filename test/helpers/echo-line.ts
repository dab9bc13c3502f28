/**
 * A caller on a line that echoes: plays Vonage's side of a leg over a real WebSocket, every 20 ms. What the gateway
 * sends is played in order, one frame per 20 ms (a `clear` drops what is not played yet; a `notify` is echoed when
 * playout reaches it, as Vonage does), and each played frame comes back in the caller's stream `delayMs` later,
 * attenuated by `lossDb`, over a quiet line (−80 dBFS noise), mixed with whatever the caller says.
 */
import WebSocket from 'ws';

export interface EchoLineOptions {
  rateHz: number;
  delayMs: number;
  lossDb: number;
}

type Played = { frame: Buffer } | { notify: unknown };

export class EchoLineCaller {
  readonly ws: WebSocket;
  /** Text messages from the gateway, in order. */
  readonly texts: Array<{ action?: string; payload?: unknown }> = [];
  /** Audio frames received from the gateway. */
  framesReceived = 0;
  /** Frames of bot audio played to the caller (cleared ones never are). */
  framesPlayed = 0;
  private readonly o: EchoLineOptions;
  private readonly frameSamples: number;
  private readonly gain: number;
  private readonly playQueue: Played[] = [];
  /** Played frames, newest last, long enough for the echo delay. */
  private readonly history: Array<Buffer | undefined> = [];
  private readonly delayFrames: number;
  private speech: Int16Array | undefined;
  private speechAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private seed = 7;

  private constructor(ws: WebSocket, o: EchoLineOptions) {
    this.ws = ws;
    this.o = o;
    this.frameSamples = o.rateHz / 50;
    this.gain = 10 ** (o.lossDb / 20);
    this.delayFrames = Math.round(o.delayMs / 20);
    ws.on('message', (d, isBinary) => {
      if (isBinary) {
        this.framesReceived++;
        this.playQueue.push({ frame: Buffer.from(d as Buffer) });
        return;
      }
      const m = JSON.parse(d.toString()) as { action?: string; payload?: unknown };
      this.texts.push(m);
      if (m.action === 'notify') this.playQueue.push({ notify: m.payload });
      if (m.action === 'clear') {
        // Vonage drops the audio it holds, but still owes the notify markers among it.
        const marks = this.playQueue.filter((p) => 'notify' in p);
        this.playQueue.length = 0;
        for (const p of marks) this.sendNotify(p.notify);
        ws.send(JSON.stringify({ event: 'websocket:cleared' }));
      }
    });
  }

  static async open(url: string, o: EchoLineOptions, uuid: string): Promise<EchoLineCaller> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const c = new EchoLineCaller(ws, o);
    ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': `audio/l16;rate=${o.rateHz}`, uuid }));
    c.start();
    return c;
  }

  /** The caller says `pcm` (16-bit samples at the leg rate) from the next frame on. */
  say(pcm: Int16Array): void {
    this.speech = pcm;
    this.speechAt = 0;
  }

  get saying(): boolean {
    return this.speech !== undefined;
  }

  get cleared(): boolean {
    return this.texts.some((m) => m.action === 'clear');
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.ws.close();
  }

  private sendNotify(payload: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event: 'websocket:notify', payload }));
  }

  private start(): void {
    const t0 = performance.now();
    let n = 0;
    const tick = () => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(this.nextFrame());
      n++;
      this.timer = setTimeout(tick, Math.max(0, t0 + n * 20 - performance.now()));
    };
    tick();
  }

  /** Play one frame of the gateway's audio, and build the one the caller's line sends back now. */
  private nextFrame(): Buffer {
    let played: Buffer | undefined;
    while (this.playQueue.length) {
      const p = this.playQueue.shift() as Played;
      if ('frame' in p) {
        played = p.frame;
        this.framesPlayed++;
        break;
      }
      this.sendNotify(p.notify);
    }
    this.history.push(played);
    if (this.history.length > this.delayFrames + 1) this.history.shift();
    const echo = this.history.length > this.delayFrames ? this.history[0] : undefined;
    const out = Buffer.alloc(this.frameSamples * 2);
    for (let i = 0; i < this.frameSamples; i++) {
      this.seed = (this.seed * 1103515245 + 12345) & 0x7fffffff;
      let v = (this.seed / 0x7fffffff - 0.5) * 11; // ≈ −80 dBFS
      if (echo && echo.length >= (i + 1) * 2) v += echo.readInt16LE(i * 2) * this.gain;
      if (this.speech) v += this.speech[this.speechAt + i] ?? 0;
      out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2);
    }
    if (this.speech) {
      this.speechAt += this.frameSamples;
      if (this.speechAt >= this.speech.length) this.speech = undefined;
    }
    return out;
  }
}
