/**
 * WebRTC VAD (`@echogarden/fvad-wasm`): one WASM module per process, one detector per call.
 * Accepts 20 ms frames at 8 or 16 kHz; the caller resamples 24 kHz legs to 16 kHz.
 */
import FvadModule from '@echogarden/fvad-wasm';

interface FvadWasm {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _fvad_new(): number;
  _fvad_free(inst: number): void;
  _fvad_set_mode(inst: number, mode: number): number;
  _fvad_set_sample_rate(inst: number, rate: number): number;
  _fvad_process(inst: number, ptr: number, samples: number): number;
}

let modulePromise: Promise<FvadWasm> | undefined;
let loaded: FvadWasm | undefined;

/** Load the WASM once per process (the app does at start). */
export function loadVad(): Promise<void> {
  modulePromise ??= (FvadModule as unknown as () => Promise<FvadWasm>)().then((m) => (loaded = m));
  return modulePromise.then(() => undefined);
}

export class Fvad {
  readonly sampleRateHz: 8000 | 16000;
  private readonly m: FvadWasm;
  private inst: number;
  private buf: number;
  private readonly frameSamples: number;

  /** @param mode 0 (least aggressive) … 3 (most). */
  constructor(sampleRateHz: 8000 | 16000, mode: 0 | 1 | 2 | 3) {
    if (!loaded) throw new Error('VAD WASM not loaded: await loadVad() first');
    this.m = loaded;
    this.sampleRateHz = sampleRateHz;
    this.frameSamples = sampleRateHz / 50;
    this.inst = this.m._fvad_new();
    if (!this.inst) throw new Error('fvad_new failed');
    this.m._fvad_set_mode(this.inst, mode);
    this.m._fvad_set_sample_rate(this.inst, sampleRateHz);
    this.buf = this.m._malloc(this.frameSamples * 2);
  }

  /** Classify one 20 ms frame (bytes of 16-bit LE PCM, exactly `rate/50*2` long). Returns true for speech. */
  isSpeech(frame: Uint8Array): boolean {
    if (!this.inst) return false;
    this.m.HEAPU8.set(frame, this.buf);
    return this.m._fvad_process(this.inst, this.buf, this.frameSamples) === 1;
  }

  close(): void {
    if (!this.inst) return;
    this.m._fvad_free(this.inst);
    this.m._free(this.buf);
    this.inst = 0;
  }
}
