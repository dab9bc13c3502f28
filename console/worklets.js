// Audio worklets of the browser softphone (plays Vonage's side of a call).
// - "vgw-capture": microphone → low-pass → resample to the leg rate → exact 20 ms frames of 16-bit PCM, posted to the
//   page (which sends each as one binary WebSocket message, as Vonage does).
// - "vgw-player": 16-bit PCM frames from the gateway → resample to the context rate → a queue that plays in order, with
//   `notify` marks echoed once the audio before them has played, and `clear` dropping the queue (marks included).

/** Streaming linear-interpolation resampler with a windowed-sinc low-pass when downsampling. Keeps state between calls. */
class StreamResampler {
  constructor(inRateHz, outRateHz) {
    this.step = inRateHz / outRateHz; // input samples per output sample
    this.t = 0; // position of the next output sample after `prev`, in input samples (0..1 between prev and current)
    this.prev = 0;
    const taps = this.step > 1 ? 31 : 1;
    this.coef = new Float32Array(taps);
    if (taps === 1) this.coef[0] = 1;
    else {
      const fc = 0.45 / this.step; // cutoff, in cycles per input sample, under the output Nyquist
      const mid = (taps - 1) / 2;
      let sum = 0;
      for (let i = 0; i < taps; i++) {
        const x = i - mid;
        const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
        const w = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (taps - 1)); // Hamming
        this.coef[i] = sinc * w;
        sum += this.coef[i];
      }
      for (let i = 0; i < taps; i++) this.coef[i] /= sum;
    }
    this.hist = new Float32Array(taps);
    this.h = 0;
  }

  /** Push input samples; calls emit(sample) for every output sample. */
  push(input, emit) {
    const coef = this.coef;
    const n = coef.length;
    for (let k = 0; k < input.length; k++) {
      let y = input[k];
      if (n > 1) {
        this.hist[this.h] = y;
        this.h = (this.h + 1) % n;
        y = 0;
        for (let i = 0, j = this.h; i < n; i++, j = (j + 1) % n) y += coef[i] * this.hist[j];
      }
      while (this.t <= 1) {
        emit(this.prev + (y - this.prev) * this.t);
        this.t += this.step;
      }
      this.t -= 1;
      this.prev = y;
    }
  }
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const rate = options.processorOptions.outRateHz;
    this.rs = new StreamResampler(sampleRate, rate);
    this.frameSamples = rate / 50;
    this.frame = new Int16Array(this.frameSamples);
    this.n = 0;
    this.emit = (s) => {
      const v = s < -1 ? -1 : s > 1 ? 1 : s;
      this.frame[this.n++] = v < 0 ? v * 0x8000 : v * 0x7fff;
      if (this.n === this.frameSamples) {
        // Int16Array is little-endian on every platform browsers run on, as Vonage's L16 is.
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Int16Array(this.frameSamples);
        this.n = 0;
      }
    };
  }

  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.rs.push(ch, this.emit);
    return true;
  }
}

class PlayerProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.rs = new StreamResampler(options.processorOptions.inRateHz, sampleRate);
    this.queue = []; // Float32Array chunks and { mark } objects, in order
    this.offset = 0; // read position in queue[0] when it is audio
    this.playedSamples = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === 'audio') {
      const pcm = new Int16Array(m.pcm);
      const inF = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) inF[i] = pcm[i] / 0x8000;
      const out = [];
      this.rs.push(inF, (s) => out.push(s));
      this.queue.push(Float32Array.from(out));
    } else if (m.type === 'mark') {
      this.queue.push({ mark: m.id });
      this.flushMarks();
    } else if (m.type === 'clear') {
      // Vonage drops all queued audio; pending notifies are assumed dropped with it (PROTOCOL.md §4).
      this.queue = [];
      this.offset = 0;
    }
  }

  flushMarks() {
    while (this.queue.length && !(this.queue[0] instanceof Float32Array)) {
      this.port.postMessage({ type: 'notify', id: this.queue.shift().mark });
    }
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    this.flushMarks();
    while (i < out.length && this.queue.length) {
      const head = this.queue[0];
      const n = Math.min(out.length - i, head.length - this.offset);
      out.set(head.subarray(this.offset, this.offset + n), i);
      i += n;
      this.offset += n;
      this.playedSamples += n;
      if (this.offset >= head.length) {
        this.queue.shift();
        this.offset = 0;
        this.flushMarks();
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}

registerProcessor('vgw-capture', CaptureProcessor);
registerProcessor('vgw-player', PlayerProcessor);
