/**
 * Offline ASR: Debian's `pocketsphinx_continuous` (+ `pocketsphinx-en-us`), one process per call, fed 16 kHz PCM
 * through a real pipe (`sh -c 'cat | exec pocketsphinx_continuous -infile /dev/stdin …'`: the program needs a pipe,
 * not the socket pair Node gives a child). Finals only, printed one per utterance; each becomes a `final` event.
 * Good for demos, wideband audio and small grammars (`ASR_GRAMMAR`, `ASR_KEYPHRASES`); use a cloud adapter or your own
 * in production.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StreamResampler } from '../audio/resampler.js';
import { Channel } from '../util/channel.js';
import type { AdapterContext } from '../util/adapter-context.js';
import type { AsrAdapter, AsrEvent, AsrStream, AsrStreamOptions } from './types.js';

export const POCKETSPHINX_BIN = 'pocketsphinx_continuous';
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us/en-us';
/** Unwritten audio allowed in the pipe before frames are dropped (the engine fell behind): 10 s at 16 kHz. */
const MAX_PENDING_BYTES = 320000;

/** Where the binary is, or undefined if it is not installed (with its model). */
export function findPocketsphinx(pathEnv = process.env.PATH ?? ''): string | undefined {
  if (!existsSync(POCKETSPHINX_MODEL_DIR)) return undefined;
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, POCKETSPHINX_BIN);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

class PocketsphinxStream implements AsrStream {
  readonly events = new Channel<AsrEvent>(256);
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly resampler: StreamResampler | undefined;
  private closed = false;
  private lineBuf = '';
  /** Frames dropped because the engine fell behind. */
  dropped = 0;

  constructor(bin: string, o: AsrStreamOptions, extraArgs: string[]) {
    const args = ['-infile', '/dev/stdin', '-samprate', '16000', '-logfn', '/dev/null', ...extraArgs];
    const cmd = `cat | exec ${shellQuote(bin)} ${args.map(shellQuote).join(' ')}`;
    this.child = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
    if (o.call.sampleRateHz !== 16000) this.resampler = new StreamResampler(o.call.sampleRateHz, 16000);
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => this.onStdout(d));
    this.child.stderr.resume();
    this.child.stdin.on('error', () => {}); // EPIPE when the engine dies: reported through 'exit'
    this.child.on('error', (err) => this.fail('ASR_SPAWN_FAILED', err.message));
    this.child.on('exit', (code, sig) => {
      if (!this.closed) this.fail('ASR_PROCESS_EXITED', `pocketsphinx exited (${code ?? sig})`);
    });
    o.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    const stdin = this.child.stdin;
    if (stdin.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    if (!this.resampler) {
      stdin.write(frame);
      return;
    }
    const samples = new Int16Array(frame.length >> 1);
    Buffer.from(samples.buffer).set(frame.subarray(0, samples.length * 2));
    const out = this.resampler.process(samples);
    stdin.write(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resampler?.close();
    this.child.stdin.end();
    // Give the engine a moment to print its last final, then make sure it is gone.
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 500);
    kill.unref();
    this.child.once('exit', () => {
      clearTimeout(kill);
      this.flushLine();
      this.events.close();
    });
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      clearTimeout(kill);
      this.events.close();
    }
  }

  private onStdout(d: string): void {
    this.lineBuf += d;
    if (this.lineBuf.length > 65536) this.lineBuf = this.lineBuf.slice(-65536);
    let nl: number;
    while ((nl = this.lineBuf.indexOf('\n')) >= 0) {
      const line = this.lineBuf.slice(0, nl).trim();
      this.lineBuf = this.lineBuf.slice(nl + 1);
      if (line) this.events.push({ type: 'final', text: line });
    }
  }

  private flushLine(): void {
    const line = this.lineBuf.trim();
    this.lineBuf = '';
    if (line) this.events.push({ type: 'final', text: line });
  }

  private fail(code: string, message: string): void {
    if (this.closed) return;
    this.events.push({ type: 'error', code, message, recoverable: false });
    this.closed = true;
    this.resampler?.close();
    this.events.close();
  }
}

/** The `local` ASR adapter. Throws if pocketsphinx is not installed. */
export function createPocketsphinxAsr(ctx: AdapterContext): AsrAdapter {
  const bin = findPocketsphinx(ctx.env.PATH ?? process.env.PATH);
  if (!bin) throw new Error(`${POCKETSPHINX_BIN} or its model (${POCKETSPHINX_MODEL_DIR}) not found: apt-get install pocketsphinx pocketsphinx-en-us`);
  const extra: string[] = [];
  if (ctx.config.asrGrammar) extra.push('-jsgf', ctx.config.asrGrammar);
  else if (ctx.config.asrKeyphrases) extra.push('-kws', ctx.config.asrKeyphrases);
  return {
    name: 'pocketsphinx',
    capabilities: { interim: false, sampleRatesHz: [16000] },
    start: (o) => new PocketsphinxStream(bin, o, extra),
  };
}
