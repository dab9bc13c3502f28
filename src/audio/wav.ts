/** 16-bit PCM WAV reading and writing (little-endian; RIFF chunks walked properly). */
import { readFileSync, writeFileSync } from 'node:fs';

export interface WavAudio {
  sampleRateHz: number;
  channels: number;
  /** Mono samples (stereo input is mixed down). */
  samples: Int16Array;
}

/** @throws Error with a clear reason for anything but 16-bit PCM WAV. */
export function readWav(buf: Buffer): WavAudio {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new Error('truncated fmt chunk');
      fmt = { format: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
      if (fmt.format === 0xfffe && size >= 40) fmt.format = buf.readUInt16LE(body + 24); // WAVE_FORMAT_EXTENSIBLE sub-format
    } else if (id === 'data') {
      if (!fmt) throw new Error('data chunk before fmt chunk');
      if (fmt.format !== 1 || fmt.bits !== 16) throw new Error(`unsupported WAV encoding (format ${fmt.format}, ${fmt.bits} bits): 16-bit PCM only`);
      if (fmt.channels < 1 || fmt.channels > 8 || fmt.rate < 1000 || fmt.rate > 192000) throw new Error('implausible WAV format');
      const end = Math.min(buf.length, body + size); // tolerate a size past the end (streamed writers)
      const frames = Math.floor((end - body) / (2 * fmt.channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        let acc = 0;
        for (let c = 0; c < fmt.channels; c++) acc += buf.readInt16LE(body + (i * fmt.channels + c) * 2);
        samples[i] = Math.round(acc / fmt.channels);
      }
      return { sampleRateHz: fmt.rate, channels: fmt.channels, samples };
    }
    off = body + size + (size & 1);
  }
  throw new Error(fmt ? 'no data chunk' : 'no fmt chunk');
}

/** A standard 44-byte-header WAV of interleaved 16-bit samples. */
export function encodeWav(samples: Int16Array, sampleRateHz: number, channels = 1): Buffer {
  const data = samples.length * 2;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRateHz, 24);
  b.writeUInt32LE(sampleRateHz * channels * 2, 28);
  b.writeUInt16LE(channels * 2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(data, 40);
  Buffer.from(samples.buffer, samples.byteOffset, data).copy(b, 44);
  return b;
}

export function readWavFile(path: string): WavAudio {
  return readWav(readFileSync(path));
}

export function writeWavFile(path: string, samples: Int16Array, sampleRateHz: number, channels = 1): void {
  writeFileSync(path, encodeWav(samples, sampleRateHz, channels));
}
