#!/usr/bin/env node
/**
 * `vgw` — the gateway's command line.
 *   vgw serve [--config f]    start the gateway (same as `npm start`); `vgw --config f` too
 *   vgw simulate [options]    play Vonage's side of one call against a running gateway
 *   vgw eval [options]        scripted calls with line impairments, turn-taking scored at the caller
 *   vgw asr-conformance       run the ASR adapter conformance suite against an adapter
 *   vgw tts-conformance       the same for a TTS adapter
 *   vgw bot-conformance       the same for a bot adapter
 *   vgw call --to N [...]     place an outbound call connected to the gateway (Vonage REST)
 */
import { parseArgs } from 'node:util';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readWav, writeWavFile, type WavAudio } from './audio/wav.js';
import { simulateCall, type SimSummary } from './sim/simulator.js';
import { callCommand } from './vonage/call-command.js';
import { EVAL_USAGE } from './eval/usage.js';

export class UsageError extends Error {}

const USAGE = `Usage:
  vgw serve [--config gateway.yaml]    (or vgw --config gateway.yaml; settings: docs/configuration.md)
  vgw simulate [--url http://localhost:8080] [--wav caller.wav|caller.raw] [--raw-rate 16000] [--out heard.wav]
               [--dtmf 1@3s,#@5.5s] [--lead 0s] [--tail 3s] [--method GET|POST] [--from N] [--to N] [--json]

  vgw asr-conformance --adapter <name|path|chain> [--wav speech.wav|speech.raw] [--rates 8000,16000,24000]
               [--expect REGEX] [--real-time] [--timeout 20s]
  vgw tts-conformance --adapter <name|path|list> [--text "…"] [--rates 8000,16000] [--first-audio-timeout 5s]
  vgw bot-conformance --adapter <name|path> [--reply-timeout 10s] [--no-output-ok]

simulate plays Vonage's side of one call: answer webhook, NCCO, WebSocket handshake, the WAV streamed in real time as
20 ms frames, DTMF, the gateway's audio played back (notify/clear answered like Vonage), then a summary.
  --url      gateway base URL (default http://localhost:8080)
  --wav      caller audio, 16-bit PCM WAV at any rate, or headerless 16-bit LE mono .raw/.pcm (default: silence)
  --raw-rate sample rate of a .raw/.pcm file (default 16000)
  --out      write what the caller heard as a WAV at the leg rate
  --dtmf     key presses, digit@time: 1@3s,#@5.5s or 5@1500ms
  --lead     silence before the audio starts, e.g. to let the greeting play (default 0s)
  --tail     how long to stay on after the audio ends (default 3s)
  --method   answer webhook method (default GET)
  --json     print the summary as JSON

${EVAL_USAGE}
asr-conformance runs the checks every ASR adapter must pass (see docs/adapters.md, "ASR adapter conformance") against the
adapter named like ASR_ADAPTER (its settings come from the environment, as for the gateway). Default speech:
/usr/share/pocketsphinx/test/data/goforward.raw (Debian pocketsphinx-testdata). Exit code 0 when every check passes.
tts-conformance and bot-conformance do the same for a TTS (named like TTS_ADAPTER) and a bot (like BOT_ADAPTER): shape,
timing, abort, close, well-formed output, no leaked handles; a throwing or hanging adapter fails checks (exit code 1).
  vgw call --to 447700900001 [--from 447700900000] [--url https://gw.example.com] [--inline-ncco] [--json]
           [--amd [--amd-mode detect_beep|detect|default] [--amd-beep-timeout 45s]]

call places an outbound call (POST /v1/calls, VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY set) whose NCCO connects the
answered call to the gateway's WebSocket, and prints the call uuid. Vonage fetches the NCCO from the gateway's answer
webhook when the callee answers (so the bot's call actions know the call's uuid); --inline-ncco sends it in the request.
  --to       number to call (E.164 digits)
  --from     caller id (default: a random number of the Vonage application)
  --url      the gateway's public base URL (default PUBLIC_URL)
  --amd      ask Vonage for answering-machine detection (behavior continue); the results (human, machine, the
             voicemail beep) reach the bot as machine-detection events, so it can leave a voicemail after the beep
  --amd-mode detect_beep (default AMD_MODE): the socket connects after the beep; detect: once human/machine is
             known; default: at once, results arrive mid-call
  --amd-beep-timeout  longest wait for the beep, 30-120 s (default AMD_BEEP_TIMEOUT_S, 0 = Vonage's)
`;

/**
 * Load an adapter for a conformance command: the loader's errors name the setting (`ASR_ADAPTER=x: …`), but the user
 * typed `--adapter x`, so say that.
 */
export async function loadForFlag<T>(envName: string, spec: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(msg.split(`${envName}=${spec}`).join(`--adapter ${spec}`), { cause: err });
  }
}

/** `3s`, `1.5s`, `1500ms`, `1500` (ms) → ms. */
export function parseDuration(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(s);
  if (!m) throw new UsageError(`bad duration "${s}" (use 3s, 1.5s or 1500ms)`);
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}

/** `1@3s,#@5.5s` → [{digit:'1', atMs:3000}, {digit:'#', atMs:5500}]. */
export function parseDtmfSpec(spec: string): Array<{ digit: string; atMs: number }> {
  return spec
    .split(',')
    .filter((x) => x.trim())
    .map((item) => {
      const [digit, at] = item.trim().split('@');
      if (!digit || !/^[0-9*#A-D]$/i.test(digit) || at === undefined) throw new UsageError(`bad DTMF "${item}" (use digit@time, e.g. 5@2s)`);
      return { digit: digit.toUpperCase(), atMs: parseDuration(at) };
    });
}

/** A WAV file, or a headerless 16-bit little-endian mono file (.raw/.pcm) at `rawRateHz`. */
export function readAudioFile(path: string, rawRateHz: number): WavAudio {
  const buf = readFileSync(path);
  if (buf.subarray(0, 4).toString('ascii') === 'RIFF') return readWav(buf);
  if (!/\.(raw|pcm)$/i.test(path)) throw new UsageError(`${path}: not a WAV file (headerless audio must end in .raw or .pcm)`);
  if (!Number.isInteger(rawRateHz) || rawRateHz < 1000 || rawRateHz > 192000) throw new UsageError('--raw-rate must be a sample rate in Hz');
  const samples = new Int16Array(buf.length >> 1);
  Buffer.from(samples.buffer).set(buf.subarray(0, samples.length * 2));
  return { sampleRateHz: rawRateHz, channels: 1, samples };
}

/** The human summary printed at the end of a simulated call. */
export function formatSummary(s: SimSummary): string {
  const lines = [
    `call ${s.uuid} at ${s.sampleRateHz} Hz (${s.frameBytes}-byte frames)`,
    `frames sent ${s.framesSent}, received ${s.framesReceived}, wrong size ${s.wrongSizeFrames}`,
    `pacing p50 ${s.pacing.p50Ms} ms, p99 ${s.pacing.p99Ms} ms, max ${s.pacing.maxMs} ms over ${s.pacing.intervals} intervals`,
    `replies ${s.replies.length}: ${s.replies.map((r) => `${r.frames * 20} ms at ${(r.startMs / 1000).toFixed(2)} s${r.latencyMs === null ? '' : ` (latency ${r.latencyMs} ms)`}`).join('; ') || 'none'}`,
    `reply latency ${s.replyLatencyMs === null ? 'n/a' : `${s.replyLatencyMs} ms`} (end of caller speech → first reply frame)`,
    `notifies ${s.notifies.length}, clears ${s.clears}`,
    `closed ${s.closeCode ?? '-'}${s.closeReason ? ` "${s.closeReason}"` : ''} by ${s.closedBy ?? '-'}`,
  ];
  return lines.join('\n');
}

function progressBar(elapsedMs: number, totalMs: number, sent: number, recv: number): string {
  const width = 30;
  const done = Math.min(width, Math.round((elapsedMs / Math.max(1, totalMs)) * width));
  return `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${(elapsedMs / 1000).toFixed(1)}/${(totalMs / 1000).toFixed(1)} s  out ${sent}  in ${recv} `;
}

async function simulate(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string', default: 'http://localhost:8080' },
        wav: { type: 'string' },
        'raw-rate': { type: 'string', default: '16000' },
        out: { type: 'string' },
        dtmf: { type: 'string' },
        tail: { type: 'string', default: '3s' },
        lead: { type: 'string', default: '0s' },
        method: { type: 'string', default: 'GET' },
        from: { type: 'string' },
        to: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const method = values.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') throw new UsageError('--method must be GET or POST');
  let wav = values.wav ? readAudioFile(values.wav, Number(values['raw-rate'])) : undefined;
  const leadMs = parseDuration(values.lead);
  if (leadMs > 0) {
    // Silence before the caller speaks (lets the bot's greeting play out first).
    const rate = wav?.sampleRateHz ?? 16000;
    const lead = Math.round((leadMs / 1000) * rate);
    const samples = new Int16Array(lead + (wav?.samples.length ?? 0));
    if (wav) samples.set(wav.samples, lead);
    wav = { sampleRateHz: rate, channels: 1, samples };
  }
  const tty = process.stderr.isTTY;
  const summary = await simulateCall({
    url: values.url,
    audio: wav ? { samples: wav.samples, sampleRateHz: wav.sampleRateHz } : undefined,
    tailMs: parseDuration(values.tail),
    dtmf: values.dtmf ? parseDtmfSpec(values.dtmf) : [],
    answerMethod: method,
    from: values.from,
    to: values.to,
    onProgress: tty ? (p) => process.stderr.write(progressBar(p.elapsedMs, p.totalMs, p.framesSent, p.framesReceived)) : undefined,
  });
  if (tty) process.stderr.write('\n');
  if (values.out) writeWavFile(values.out, summary.heard, summary.sampleRateHz);
  if (values.json) {
    const { heard: _h, received: _r, ...rest } = summary;
    process.stdout.write(JSON.stringify(rest, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(summary) + '\n');
    if (values.out) process.stdout.write(`wrote what the caller heard to ${values.out}\n`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'serve' || cmd === '--config' || cmd?.startsWith('--config=')) {
      await import('./main.js');
      return -1; // keeps running
    }
    if (cmd === 'simulate') return await simulate(rest);
    if (cmd === 'eval') return await (await import('./eval/cli.js')).evalCommand(rest, (m) => new UsageError(m));
    if (cmd === 'asr-conformance') return await (await import('./asr/conformance-cli.js')).asrConformanceCommand(rest);
    if (cmd === 'tts-conformance') return await (await import('./tts/conformance-cli.js')).ttsConformanceCommand(rest);
    if (cmd === 'bot-conformance') return await (await import('./bot/conformance-cli.js')).botConformanceCommand(rest);
    if (cmd === 'call') return await callCommand(rest, process.env, (m) => new UsageError(m));
    if (cmd === undefined || cmd === '--help' || cmd === 'help') {
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${cmd}"`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`vgw: ${err.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`vgw: ${(err as Error).message}\n`);
    return 1;
  }
}

/**
 * Run as the program (`node dist/src/cli.js`, or the `vgw` bin: npm links `node_modules/.bin/vgw` → this file, so
 * argv[1] is the link's path), not when imported: compare real paths, never the name.
 */
function invokedDirectly(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // main() never rejects: it reports every failure itself and returns the exit code.
  void main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
