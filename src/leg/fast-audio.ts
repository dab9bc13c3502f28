/**
 * A leg's audio without `ws`'s per-message objects (issue 18, per core), both ways: inbound here, outbound in
 * {@link FramedWriter} below. Inbound: the one message type that arrives 50
 * times a second per call, a complete, final, masked binary frame, is read straight from the socket's chunk (unmasked
 * in place, handed over as one view of it); every other frame is handed to `ws`'s own receiver, whole and in order, so
 * `ws` still does text, ping, pong, close, fragmented messages and every protocol error, with its close codes.
 *
 * `ws` stays the WebSocket library: it does the upgrade, all sending, the close handshake and everything but the hot
 * message. Its receiver is a Writable its socket `'data'` listener writes each chunk to; for each inbound message it
 * makes four to six Buffer views (header, length, mask, payload), the Writable's per-write bookkeeping and a `nextTick`:
 * about 900 bytes of garbage per message, most of a leg's young-generation garbage (bench:alloc). This reader takes the
 * place of that receiver's `write` (so `ws`'s socket handling, its pause on a full receiver and its stop on an error,
 * is untouched) and keeps the receiver at frame boundaries: it only ever writes whole frames to it, or, from the first
 * frame it does not want to judge (reserved bits, unmasked, unknown opcode, too large, a 64-bit length), the rest of
 * the stream as it comes ("hand-over"), after which `ws` reads everything, exactly as without this reader.
 *
 * Frames that arrive split over socket reads are kept as the chunks they came in and joined once complete (no copy
 * per read). A delivered payload is a view of a chunk nobody reuses: the listener may keep it.
 */
import { createRequire } from 'node:module';
import type { WebSocket } from 'ws';

/**
 * `bufferutil`'s native unmask (the add-on `ws` itself uses; a dependency): a masked 640-byte message read in 0.1–0.2 µs
 * against 0.35–0.7 µs with the loop below (`npm run bench:micro`). Undefined when only its JavaScript fallback loads (no
 * prebuilt add-on for the platform), or `WS_NO_BUFFER_UTIL` is set, as `ws` reads it.
 */
type Unmask = (buffer: Buffer, mask: Buffer) => void;
export const nativeUnmask: Unmask | undefined = ((): Unmask | undefined => {
  if (process.env.WS_NO_BUFFER_UTIL) return undefined;
  try {
    const fn = (createRequire(import.meta.url)('bufferutil') as { unmask?: unknown }).unmask;
    return typeof fn === 'function' && /\[native code\]/.test(Function.prototype.toString.call(fn)) ? (fn as Unmask) : undefined;
  } catch {
    return undefined;
  }
})();
/** Below this many bytes the call into the add-on costs more than the loop (`ws` uses 32). */
const NATIVE_UNMASK_MIN = 64;

/** The receiver's own `write`: false when it wants the socket paused until it drains. */
type WriteFn = (chunk: Buffer) => boolean;
/** What is read of `ws`'s receiver (a Writable): its `write`, its error flag, and whether it has ended. */
interface WsReceiver {
  write: unknown;
  _errored?: unknown;
  _writableState?: { ending: boolean };
}

const OP_CONTINUATION = 0x0;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
/** Data opcodes 0–2 and control opcodes 8–10 are defined; the rest are `ws`'s to refuse (1002). */
const KNOWN_OPCODES = 0b111_0000_0111;
/** Pieces of an incomplete frame kept before they are joined (bounds the array a slow sender can grow). */
const MAX_PARTS = 64;

export interface FastReceiveStats {
  /** Binary messages read here. */
  fast: number;
  /** Frames handed to `ws` whole (text, ping, pong, close, fragments). */
  routed: number;
  /** True once the stream was handed over to `ws` for good. */
  handedOver: boolean;
}

export class FastReceiver {
  readonly stats: FastReceiveStats = { fast: 0, routed: 0, handedOver: false };
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes the incomplete frame needs before it is worth parsing again. */
  private needBytes = 0;
  /** A fragmented data message is open in `ws`'s receiver: every frame goes there until it ends. */
  private inFragment = false;

  /** What the last frames handed to `ws` returned (false: pause the socket until the receiver drains). */
  private flowing = true;
  /** The native unmask (undefined: the loop), and the 4-byte mask it is given (reused: nothing allocated per frame). */
  private readonly unmask: Unmask | undefined;
  private readonly mask = Buffer.alloc(4);

  /**
   * @param wsWrite `ws`'s receiver's own `write` (what every frame not read here is given to).
   * @param onBinary a complete binary message; must not throw (the leg guards its listener).
   */
  constructor(
    private readonly wsWrite: WriteFn,
    private readonly onBinary: (payload: Buffer) => void,
    private readonly maxPayload: number,
    /** A throw here (a bug): the socket goes (nothing may escape into `ws`'s socket listener and the event loop). */
    private readonly onFault: () => void,
    /** True once `ws`'s receiver has stopped reading (a close frame ended it, or a protocol error). */
    private readonly wsStopped: () => boolean = () => false,
    /** The unmask for payloads of 64 bytes or more; null: always the loop (tests, `bench:micro`). */
    unmask: Unmask | null | undefined = nativeUnmask,
  ) {
    this.unmask = unmask ?? undefined;
  }

  /** In place of the receiver's `write`: what `ws`'s socket listener calls with each chunk. */
  write(chunk: Buffer): boolean {
    if (this.stats.handedOver) return this.wsWrite(chunk);
    this.flowing = true;
    try {
      this.read(chunk);
    } catch {
      this.stats.handedOver = true;
      this.onFault();
      return false;
    }
    return this.flowing;
  }

  private toWs(data: Buffer): void {
    if (!this.wsWrite(data)) this.flowing = false;
  }

  private read(chunk: Buffer): void {
    let buf = chunk;
    if (this.partBytes > 0) {
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      if (this.partBytes < this.needBytes) {
        if (this.parts.length > MAX_PARTS) this.parts = [Buffer.concat(this.parts, this.partBytes)];
        return;
      }
      buf = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partBytes);
      this.parts = [];
      this.partBytes = 0;
    }
    const end = buf.length;
    let off = 0;
    while (off < end) {
      const avail = end - off;
      if (avail < 2) {
        this.keep(buf, off, 2);
        return;
      }
      const b0 = buf[off] as number;
      const b1 = buf[off + 1] as number;
      const opcode = b0 & 0x0f;
      const len7 = b1 & 0x7f;
      // Reserved bits (no extension is negotiated), an unmasked frame or an unknown opcode: `ws` refuses it.
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0 || ((KNOWN_OPCODES >> opcode) & 1) === 0) return this.handOver(buf, off);
      let head = 6;
      let len = len7;
      if (len7 === 126) {
        if (avail < 4) return this.keep(buf, off, 4);
        len = buf.readUInt16BE(off + 2);
        head = 8;
      } else if (len7 === 127) return this.handOver(buf, off); // 64-bit lengths: larger than any limit we allow
      if (len > this.maxPayload || (opcode >= OP_CLOSE && (len > 125 || (b0 & 0x80) === 0))) return this.handOver(buf, off);
      const frameEnd = off + head + len;
      if (frameEnd > end) return this.keep(buf, off, head + len);
      const fin = (b0 & 0x80) !== 0;
      if (opcode === OP_BINARY && fin && !this.inFragment) {
        const p = off + head;
        const m0 = buf[p - 4] as number;
        const m1 = buf[p - 3] as number;
        const m2 = buf[p - 2] as number;
        const m3 = buf[p - 1] as number;
        const payload = buf.subarray(p, frameEnd);
        if (this.unmask !== undefined && len >= NATIVE_UNMASK_MIN) {
          const mask = this.mask;
          mask[0] = m0;
          mask[1] = m1;
          mask[2] = m2;
          mask[3] = m3;
          this.unmask(payload, mask);
        } else {
          let i = p;
          for (; i + 4 <= frameEnd; i += 4) {
            buf[i] = (buf[i] as number) ^ m0;
            buf[i + 1] = (buf[i + 1] as number) ^ m1;
            buf[i + 2] = (buf[i + 2] as number) ^ m2;
            buf[i + 3] = (buf[i + 3] as number) ^ m3;
          }
          for (let k = 0; i < frameEnd; i++, k++) buf[i] = (buf[i] as number) ^ (buf[p - 4 + k] as number);
        }
        off = frameEnd;
        this.stats.fast++;
        this.onBinary(payload);
        continue;
      }
      if (opcode < OP_CLOSE) this.inFragment = fin ? opcode !== OP_CONTINUATION && this.inFragment : true;
      const frame = buf.subarray(off, frameEnd);
      off = frameEnd;
      this.stats.routed++;
      this.toWs(frame);
      // After a close frame or an error `ws`'s receiver reads nothing more: the rest of the chunk is dropped, as `ws`
      // drops it (and `ws` stops writing to it).
      if (this.wsStopped()) {
        this.stats.handedOver = true;
        return;
      }
    }
  }

  /** Keep `buf` from `off` (an incomplete frame) until `need` bytes of it are here. */
  private keep(buf: Buffer, off: number, need: number): void {
    const rest = off === 0 ? buf : buf.subarray(off);
    this.parts = [rest];
    this.partBytes = rest.length;
    this.needBytes = need;
  }

  /** From `off` on, the stream is `ws`'s. */
  private handOver(buf: Buffer, off: number): void {
    this.stats.handedOver = true;
    if (off < buf.length) this.toWs(off === 0 ? buf : buf.subarray(off));
  }
}

/**
 * Put a {@link FastReceiver} in front of `ws`'s receiver. Must be called in the upgrade callback, before the socket
 * delivers anything. Returns undefined (and changes nothing) when `ws` is not laid out as expected (a receiver with a
 * `write`): then `ws` reads everything, as it would anyway.
 */
export function installFastReceive(ws: WebSocket, onBinary: (payload: Buffer) => void, maxPayload: number): FastReceiver | undefined {
  const receiver = (ws as unknown as { _receiver?: WsReceiver })._receiver;
  if (!receiver || typeof receiver.write !== 'function' || typeof receiver._errored !== 'boolean' || !receiver._writableState) return undefined;
  const wsWrite = (receiver.write as WriteFn).bind(receiver);
  const state = receiver._writableState;
  const reader = new FastReceiver(
    wsWrite,
    onBinary,
    maxPayload,
    () => ws.terminate(),
    () => receiver._errored === true || state.ending,
  );
  receiver.write = (chunk: Buffer) => reader.write(chunk);
  return reader;
}

/**
 * The other direction: a leg's outbound audio frames written to `ws`'s socket as one pre-framed buffer (the frame
 * header written once, the audio copied in behind it), instead of `ws.send`'s header Buffer, corked pair of writes and
 * `writev` (about 1 KB of garbage per frame sent). Only while the socket holds nothing unsent (`writableLength` 0: every
 * earlier write has reached the kernel, so the one buffer is free to reuse) and `ws` is open; otherwise the frame goes
 * through `ws.send`, and either way frames reach the socket in the order they were sent. Text, pings and close stay
 * `ws`'s.
 */
export class FramedWriter {
  private wire: Buffer | undefined;
  private head = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: { write(b: Buffer): boolean; readonly writableLength: number },
  ) {}

  /** Write `frame` as one unmasked binary WebSocket frame; false when it must go through `ws.send` instead. */
  write(frame: Buffer): boolean {
    const len = frame.length;
    if (this.socket.writableLength !== 0 || this.ws.readyState !== 1 || len > 0xffff) return false;
    let wire = this.wire;
    if (wire === undefined || wire.length !== this.head + len) {
      this.head = len < 126 ? 2 : 4;
      wire = this.wire = Buffer.allocUnsafeSlow(this.head + len);
      wire[0] = 0x82; // FIN, binary
      if (len < 126) wire[1] = len;
      else {
        wire[1] = 126;
        wire.writeUInt16BE(len, 2);
      }
    }
    frame.copy(wire, this.head);
    this.socket.write(wire);
    return true;
  }
}

/** A {@link FramedWriter} on `ws`'s socket, or undefined when `ws` is not laid out as expected (then `ws.send` it is). */
export function framedWriter(ws: WebSocket): FramedWriter | undefined {
  const socket = (ws as unknown as { _socket?: { write?: unknown; writableLength?: unknown } })._socket;
  if (!socket || typeof socket.write !== 'function' || typeof socket.writableLength !== 'number') return undefined;
  return new FramedWriter(ws, socket as { write(b: Buffer): boolean; readonly writableLength: number });
}
