/**
 * The package as a user gets it: the `vgw` bin works through npm's bin link (a symlink), the SDK resolves by the
 * package's own name through `exports` with its `.d.ts`, and the examples written with it type-check (and a wrong one
 * does not), pass their conformance suites, and drive a real call.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { must } from '../helpers/must.js';

const root = resolve('.');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
};
const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44);
const EXAMPLES = ['examples/my-bot.mjs', 'examples/my-tts.mjs', 'examples/my-asr.mjs', 'examples/my-turn-detector.mjs'];

t.test('the vgw bin runs through a symlink like node_modules/.bin/vgw', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vgw-bin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  const link = join(dir, 'node_modules', '.bin', 'vgw');
  const target = join(root, must(pkg.bin.vgw, 'a vgw bin'));
  symlinkSync(target, link);
  // npm makes the bin target executable when it links it.
  chmodSync(target, statSync(target).mode | 0o111);
  for (const argv of [
    [link, '--help'],
    [process.execPath, link, '--help'],
  ]) {
    const r = spawnSync(must(argv[0]), argv.slice(1), { encoding: 'utf8', cwd: dir });
    t.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
    t.match(r.stdout, /Usage:\n {2}vgw serve/, 'prints its usage');
    t.match(r.stdout, /vgw bot-conformance --adapter/);
  }
  const unknown = spawnSync(link, ['nope'], { encoding: 'utf8', cwd: dir });
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown command "nope"/);
  // Importing the CLI module (as the conformance commands do) does not run it.
  const imported = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(target)}); console.log('imported')`], {
    encoding: 'utf8',
  });
  t.equal(imported.stdout, 'imported\n');
});

t.test('the SDK resolves by the package name through exports, with its declarations', async (t) => {
  for (const [sub, e] of Object.entries(pkg.exports)) {
    if (typeof e !== 'object') continue;
    t.ok(existsSync(e.default), `${sub} → ${e.default}`);
    t.ok(existsSync(e.types), `${sub} types → ${e.types}`);
  }
  const dts = readFileSync(must(pkg.exports['./sdk']).types, 'utf8');
  for (const name of [
    'defineBot',
    'defineTts',
    'defineAsr',
    'defineTurnDetector',
    'TurnDetector',
    'AdapterError',
    'toAdapterError',
    'Channel',
    'BotSession',
    'AsrAdapter',
    'TtsAdapter',
    'CallInfo',
    'AdapterContext',
  ])
    t.match(dts, new RegExp(`\\b${name}\\b`), name);
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const sdk = await import('${pkg.name}/sdk');
    const c = await import('${pkg.name}/conformance');
    console.log(Object.keys(sdk).sort().join(','), typeof c.runBotConformance, typeof c.runTtsConformance, typeof c.runAsrConformance);
  `,
    ],
    { encoding: 'utf8', cwd: root },
  );
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), 'ADAPTER_CODE,AdapterError,Channel,defineAsr,defineBot,defineTts,defineTurnDetector,toAdapterError function function function');
});

/** `tsc --noEmit --allowJs --checkJs` over files, with the project's strictness; its diagnostics. */
function typeCheck(files: string[]): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [
      'node_modules/typescript/bin/tsc',
      '--noEmit',
      '--allowJs',
      '--checkJs',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--skipLibCheck',
      ...files,
    ],
    { encoding: 'utf8', cwd: root },
  );
  return { status: r.status, out: r.stdout + r.stderr };
}

t.test('the examples type-check against the published declarations; a wrong one does not', async (t) => {
  for (const f of EXAMPLES) t.match(readFileSync(f, 'utf8'), /^\/\/ @ts-check\n/, `${f} asks to be checked`);
  const ok = typeCheck(EXAMPLES);
  t.equal(ok.out, '', 'no diagnostics');
  t.equal(ok.status, 0);
  // The same bot with a misspelt event field and a bad argument, and with a misspelt handler, inside the package (so its name resolves).
  const dir = join(root, 'dist', 'test', 'sdk-typecheck');
  mkdirSync(dir, { recursive: true });
  const bad = join(dir, 'bad-bot.mjs');
  writeFileSync(bad, readFileSync('examples/my-bot.mjs', 'utf8').replace('({ digit })', '({ digits })').replace("ctx.say('Goodbye!')", 'ctx.say(42)'));
  const misspelt = join(dir, 'misspelt-bot.mjs');
  writeFileSync(misspelt, readFileSync('examples/my-bot.mjs', 'utf8').replace('onDtmf:', 'onDtfm:'));
  const wrong = typeCheck([bad]);
  t.not(wrong.status, 0);
  t.match(wrong.out, /error TS2339: Property 'digits' does not exist/);
  t.match(wrong.out, /error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'/);
  const typo = typeCheck([misspelt]);
  t.not(typo.status, 0);
  t.match(typo.out, /'onDtfm' does not exist in type 'BotDefinition/, 'a misspelt handler is caught');
});

t.test('each example passes its conformance suite from the command line', async (t) => {
  for (const kind of ['bot', 'tts', 'asr']) {
    const r = spawnSync(process.execPath, ['dist/src/cli.js', `${kind}-conformance`, '--adapter', `./examples/my-${kind}.mjs`], {
      encoding: 'utf8',
      cwd: root,
    });
    t.equal(r.status, 0, `${kind}: ${r.stdout}${r.stderr}`);
    t.match(r.stdout, new RegExp(`my-${kind}: (\\d+)/\\1 checks passed`));
  }
});

t.test('the example bot and TTS carry a real call: greeting, a key read back, "bye" → goodbye and hang-up', async (t) => {
  const g = await startGateway(t, {
    BOT_ADAPTER: './examples/my-bot.mjs',
    TTS_ADAPTER: './examples/my-tts.mjs',
    ASR_ADAPTER: './dist/test/fixtures/text-asr.js',
    SCRIPTED_ASR_TEXTS: 'ok bye now',
  });
  t.equal(g.gw.adapters.bot.name, 'my-bot');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'sdk-example-1', from: '447700900123' });
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 10);
  // "Hello caller 447700900123. Say something, or press a key." = 9 words × 200 ms of tones.
  const greeting = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 5000, 'greeting played');
  t.equal(greeting.totalMs, 1800, 'the greeting is 9 words of tones');
  const framesBefore = leg.binary.length;
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '5', duration: 120 }));
  const key = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 2, 5000, 'key read back');
  t.equal(key.totalMs, 600, '"You pressed 5." is 3 words');
  const frames = leg.binary.slice(framesBefore);
  t.ok(frames.length >= 30 && frames.every((f) => f.length === 640), `exact frames (${frames.length})`);
  // The caller speaks; the scripted ASR hears "ok bye now": the bot says "Goodbye!" (1 word) and hangs up.
  await streamFrames(leg.ws, Buffer.concat([SPEECH, Buffer.alloc(32000)]), 640, Math.ceil(SPEECH.length / 640) + 50);
  const bye = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 3, 5000, 'goodbye played');
  t.equal(bye.totalMs, 200, '"Goodbye!" is 1 word');
  const closed = await leg.closed;
  t.equal(closed.code, 1000, 'the bot hung up');
  t.ok(g.logs.some((l) => l.msg === 'bot hangup' && l.reason === 'caller said bye'));
});

t.test('the three examples together carry a call: speech heard by my-asr, answered by my-bot, spoken by my-tts', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: './examples/my-bot.mjs', TTS_ADAPTER: './examples/my-tts.mjs', ASR_ADAPTER: './examples/my-asr.mjs' });
  t.equal(g.gw.adapters.asr?.name, 'my-asr');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'sdk-example-2' });
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 10);
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 5000, 'greeting played');
  await streamFrames(leg.ws, Buffer.concat([SPEECH, Buffer.alloc(32000)]), 640, Math.ceil(SPEECH.length / 640) + 50);
  const heard = await untilEvent(g, 'transcript', (e) => e.final, 5000, 'a transcript from my-asr');
  t.match(heard.text, /^\(speech, \d+\.\d s\)$/);
  // "I heard (speech, 1.2 s)" = 5 words × 200 ms.
  const reply = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 2, 5000, 'the answer played');
  t.equal(reply.totalMs, 1000);
  leg.ws.close();
});
