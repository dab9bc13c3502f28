/**
 * Streaming resampler: SpeexDSP compiled to WASM (`@echogarden/speex-resampler-wasm`, SIMD build, quality 5).
 * Keeps filter state between chunks, so 20 ms pieces resample as cleanly as one long buffer.
 * The WASM module is loaded once per process ({@link loadResampler}); each stream owns its native state and buffers
 * and must be {@link StreamResampler.close}d (closing twice is harmless).
 */
import SpeexResamplerModule from '@echogarden/speex-resampler-wasm/simd';

interface SpeexModule {
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_destroy(state: number): void;
  _speex_resampler_process_int(state: number, channel: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
  _speex_resampler_skip_zeros(state: number): number;
}

let modulePromise: Promise<SpeexModule> | undefined;
let loaded: SpeexModule | undefined;

/** Load the WASM once per process. Call before creating streams (app start does). */
export function loadResampler(): Promise<void> {
  modulePromise ??= (SpeexResamplerModule as unknown as () => Promise<SpeexModule>)().then((m) => (loaded = m));
  return modulePromise.then(() => undefined);
}

/** Samples processed per native call; inputs longer than this are processed in pieces. */
const CHUNK_SAMPLES = 4800;

export class StreamResampler {
  readonly inRateHz: number;
  readonly outRateHz: number;
  private readonly m: SpeexModule;
  private state = 0;
  private inPtr = 0;
  private outPtr = 0;
  private lenPtr = 0;
  private readonly outCap: number;
  private closedFlag = false;

  /** @throws if {@link loadResampler} has not completed. */
  constructor(inRateHz: number, outRateHz: number, quality = 5) {
    if (!loaded) throw new Error('resampler WASM not loaded: await loadResampler() first');
    this.m = loaded;
    this.inRateHz = inRateHz;
    this.outRateHz = outRateHz;
    this.outCap = Math.ceil((CHUNK_SAMPLES * outRateHz) / inRateHz) + 64;
    if (inRateHz === outRateHz) return;
    this.lenPtr = this.m._malloc(12);
    const err = this.lenPtr + 8;
    this.m.HEAPU32[err >> 2] = 0;
    this.state = this.m._speex_resampler_init(1, inRateHz, outRateHz, quality, err);
    if (!this.state || this.m.HEAPU32[err >> 2] !== 0) {
      this.m._free(this.lenPtr);
      throw new Error(`speex_resampler_init(${inRateHz}→${outRateHz}) failed`);
    }
    this.inPtr = this.m._malloc(CHUNK_SAMPLES * 2);
    this.outPtr = this.m._malloc(this.outCap * 2);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Resample one chunk. Returns new samples (possibly fewer or more than the ratio suggests for a single chunk: the
   * filter delay is carried to the next call). Same-rate streams return the input itself.
   */
  process(input: Int16Array): Int16Array {
    if (this.closedFlag) throw new Error('resampler closed');
    if (this.inRateHz === this.outRateHz) return input;
    const m = this.m;
    const parts: Int16Array[] = [];
    let total = 0;
    for (let off = 0; off < input.length;) {
      const n = Math.min(CHUNK_SAMPLES, input.length - off);
      m.HEAP16.set(input.subarray(off, off + n), this.inPtr >> 1);
      let consumed = 0;
      // A native call may stop early when the output buffer fills: loop until this piece is consumed.
      while (consumed < n) {
        m.HEAPU32[this.lenPtr >> 2] = n - consumed;
        m.HEAPU32[(this.lenPtr >> 2) + 1] = this.outCap;
        m._speex_resampler_process_int(this.state, 0, this.inPtr + consumed * 2, this.lenPtr, this.outPtr, this.lenPtr + 4);
        const used = m.HEAPU32[this.lenPtr >> 2]!;
        const written = m.HEAPU32[(this.lenPtr >> 2) + 1]!;
        if (written > 0) {
          parts.push(m.HEAP16.slice(this.outPtr >> 1, (this.outPtr >> 1) + written));
          total += written;
        }
        if (used === 0 && written === 0) break;
        consumed += used;
      }
      off += n;
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Int16Array(total);
    let p = 0;
    for (const part of parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }

  /** Push zeros through to flush the filter's tail (call at the end of a stream so the last samples come out). */
  flush(): Int16Array {
    if (this.inRateHz === this.outRateHz || this.closedFlag) return new Int16Array(0);
    return this.process(new Int16Array(Math.ceil(this.inRateHz / 100))); // 10 ms of silence covers quality-5 delay
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (!this.state) return;
    this.m._speex_resampler_destroy(this.state);
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
    this.m._free(this.lenPtr);
    this.state = 0;
  }
}
