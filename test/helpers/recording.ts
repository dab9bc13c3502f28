/** Reading the gateway's call recordings in tests: header sizes, channels split into 20 ms frames. */
import { readFileSync } from 'node:fs';
import { readWav } from '../../src/audio/wav.js';
import { must } from './must.js';

export interface RecordingFile {
  bytes: Buffer;
  sampleRateHz: number;
  channels: number;
  /** RIFF size field (file size − 8 when complete). */
  riffSize: number;
  /** data chunk size field (file size − 44 when complete). */
  dataSize: number;
  left: Buffer;
  right: Buffer;
}

/** Parse a recording (validated by the project's WAV reader) and split its channels. */
export function readRecording(path: string): RecordingFile {
  const bytes = readFileSync(path);
  const wav = readWav(bytes); // throws on anything but a well-formed 16-bit PCM WAV
  const data = bytes.subarray(44);
  const n = data.length >> 2;
  const left = Buffer.alloc(n * 2);
  const right = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    data.copy(left, i * 2, i * 4, i * 4 + 2);
    data.copy(right, i * 2, i * 4 + 2, i * 4 + 4);
  }
  return { bytes, sampleRateHz: wav.sampleRateHz, channels: wav.channels, riffSize: bytes.readUInt32LE(4), dataSize: bytes.readUInt32LE(40), left, right };
}

/** Cut PCM into frames of `frameBytes` (a trailing partial frame is dropped). */
export function frames(pcm: Buffer, frameBytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + frameBytes <= pcm.length; off += frameBytes) out.push(pcm.subarray(off, off + frameBytes));
  return out;
}

export function isZero(f: Buffer): boolean {
  for (let i = 0; i < f.length; i++) if (f[i] !== 0) return false;
  return true;
}

/** The non-silent frames, in order (slots where a side had nothing are digital silence in a recording). */
export function voiced(fs: Buffer[]): Buffer[] {
  return fs.filter((f) => !isZero(f));
}

/** Index of the first frame in `fs` that differs from `expected` (both compared up to the shorter), or −1. */
export function firstMismatch(fs: Buffer[], expected: Buffer[]): number {
  const n = Math.min(fs.length, expected.length);
  for (let i = 0; i < n; i++) if (!must(fs[i]).equals(must(expected[i]))) return i;
  return fs.length === expected.length ? -1 : n;
}
