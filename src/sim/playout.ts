/**
 * Vonage's side of the outbound audio, emulated: received frames queue up and play one per 20 ms; `notify` markers
 * in the queue are echoed when the audio before them has played (at once on an empty queue); `clear` drops the queue
 * (and, by default, pending markers) and is acknowledged with `websocket:cleared`.
 */
export type PlayoutItem = { kind: 'audio'; frame: Buffer } | { kind: 'mark'; payload: unknown };

export interface PlayoutEvents {
  /** Send a text message back to the gateway. */
  sendText(text: string): void;
  /** A notify payload was echoed. */
  onNotify(payload: unknown): void;
}

export class VonagePlayout {
  private queue: PlayoutItem[] = [];
  private readonly heard: Int16Array[] = [];
  private readonly silence: Int16Array;
  /** Played audio frames (not silence). */
  playedFrames = 0;
  clears = 0;

  constructor(
    readonly frameBytes: number,
    private readonly events: PlayoutEvents,
    private readonly clearCancelsNotify = true,
    /** Most frames the queue holds (Vonage documents about 3072); beyond, the newest are dropped and counted. */
    private readonly capacityFrames = 3072,
  ) {
    this.silence = new Int16Array(frameBytes / 2);
  }

  /** Frames dropped because the queue was full. */
  overflowFrames = 0;

  get queuedFrames(): number {
    let n = 0;
    for (const i of this.queue) if (i.kind === 'audio') n++;
    return n;
  }

  audio(frame: Buffer): void {
    if (this.queuedFrames >= this.capacityFrames) {
      this.overflowFrames++;
      return;
    }
    this.queue.push({ kind: 'audio', frame });
  }

  notify(payload: unknown): void {
    this.queue.push({ kind: 'mark', payload });
    this.flushMarks();
  }

  clear(): void {
    this.clears++;
    this.queue = this.clearCancelsNotify ? [] : this.queue.filter((i) => i.kind === 'mark');
    this.events.sendText(JSON.stringify({ event: 'websocket:cleared' }));
    this.flushMarks();
  }

  /** One 20 ms playout slot. Returns true when an audio frame played (false: silence). */
  tick(): boolean {
    this.flushMarks();
    const item = this.queue[0];
    if (item && item.kind === 'audio') {
      this.queue.shift();
      const f = item.frame;
      const s = new Int16Array(f.length >> 1);
      Buffer.from(s.buffer).set(f.subarray(0, s.length * 2));
      this.heard.push(s);
      this.playedFrames++;
      this.flushMarks();
      return true;
    }
    this.heard.push(this.silence);
    this.flushMarks();
    return false;
  }

  /** What the caller heard in the last slot (silence before the first). Valid until the next tick. */
  get lastHeard(): Int16Array {
    return this.heard.length ? this.heard[this.heard.length - 1]! : this.silence;
  }

  /** Everything the caller heard, one frame per tick (silence included). */
  heardAudio(): Int16Array {
    const out = new Int16Array(this.heard.length * this.silence.length);
    this.heard.forEach((f, i) => out.set(f, i * this.silence.length));
    return out;
  }

  private flushMarks(): void {
    while (this.queue.length && this.queue[0]!.kind === 'mark') {
      const m = this.queue.shift() as { kind: 'mark'; payload: unknown };
      this.events.sendText(JSON.stringify({ event: 'websocket:notify', payload: m.payload }));
      this.events.onNotify(m.payload);
    }
  }
}
