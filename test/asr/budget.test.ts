/**
 * The offline recogniser budget (issue 13, "memory by the call"): at most LOCAL_ASR_MAX_PROCESSES pocketsphinx
 * processes at once, at most two loading their model at once, at a lower CPU priority than the gateway; calls past the
 * budget go on without ASR, counted and logged once. The unit tests drive the budget and the real adapter; the burst
 * test opens 100 legs at once against a real gateway on the default offline pipeline while a bystander talks.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadResampler } from '../../src/audio/resampler.js';
import { ProcessBudget, type BudgetTicket } from '../../src/asr/process-budget.js';
import { createPocketsphinxAsr, findPocketsphinx, RECOGNISER_NICE } from '../../src/asr/pocketsphinx.js';
import type { AsrStream } from '../../src/asr/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadConfig } from '../../src/config/config.js';
import { AdapterError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue, startGateway, until, untilLog, type LogLine } from '../helpers/gateway.js';
import { ContinuousCaller, openRawLeg, type RawLeg } from '../helpers/raw-leg.js';
import { descendants, descendantsNamed } from '../helpers/resources.js';
import { wer } from '../helpers/transcribe.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const GOFORWARD = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw'); // 16 kHz: "go forward ten meters"
const skip = findPocketsphinx() ? false : 'pocketsphinx not installed';
const RECOGNISER = 'pocketsphinx_continuous';
const OVER_BUDGET_MSG = /^local ASR over budget/;
await loadResampler();

t.test('budget: N+1 requests → one refusal; start-up slots; release on exit, cancel and a throwing launch', async (t) => {
  const b = new ProcessBudget(3, 2);
  const launched: BudgetTicket[] = [];
  const tickets = [1, 2, 3].map(() => b.reserve((tk) => void launched.push(tk)));
  t.ok(tickets.every(Boolean), 'three within the budget');
  t.equal(launched.length, 2, 'two start at once, the third waits for a start-up slot');
  t.same(b.stats, { running: 2, starting: 2, startsQueued: 1, overBudget: 0 });
  t.equal(
    b.reserve(() => t.fail('never launched')),
    undefined,
    'the fourth is refused',
  );
  t.equal(b.stats.overBudget, 1);

  must(launched[0]).started();
  t.equal(launched.length, 3, 'a finished start-up lets the queued one start');
  t.same(b.stats, { running: 3, starting: 2, startsQueued: 0, overBudget: 1 });
  must(launched[0]).started(); // idempotent
  t.equal(b.stats.starting, 2);

  t.equal(
    b.reserve(() => {}),
    undefined,
    'still full while three processes exist',
  );
  must(launched[1]).cancel(); // the call closed: the process may linger, so nothing is released yet…
  must(launched[1]).exited(); // …until it is gone (cancel of a launched ticket = exited; both idempotent)
  t.same(b.stats, { running: 2, starting: 1, startsQueued: 0, overBudget: 2 });
  const again = b.reserve((tk) => void launched.push(tk));
  t.ok(again, 'after an exit the next request succeeds');
  t.equal(launched.length, 4);

  // A queued request that gives up leaves the queue and frees its slot.
  const b2 = new ProcessBudget(2, 1);
  let second = 0;
  b2.reserve(() => {});
  const queued = b2.reserve(() => second++);
  t.equal(b2.stats.startsQueued, 1);
  queued?.cancel();
  t.same(b2.stats, { running: 1, starting: 1, startsQueued: 0, overBudget: 0 });
  t.ok(
    b2.reserve(() => {}),
    'the cancelled slot is free again',
  );
  t.equal(second, 0, 'a cancelled request is never launched');

  // A launch that throws is a process that never existed.
  const b3 = new ProcessBudget(1, 1);
  t.ok(
    b3.reserve(() => {
      throw new Error('spawn failed');
    }),
  );
  t.same(b3.stats, { running: 0, starting: 0, startsQueued: 0, overBudget: 0 });
  t.ok(
    b3.reserve(() => {}),
    'its slot is free',
  );
});

function callInfo(id: string, sampleRateHz = 16000): CallInfo {
  return { callId: id, conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz, language: 'en-US', metadata: {} };
}

/** The first final transcript of `s` (undefined if its events end without one). */
async function firstFinal(s: AsrStream): Promise<string | undefined> {
  for await (const e of s.events) if (e.type === 'final') return e.text;
  return undefined;
}

/** Speech then a second of silence (the engine ends an utterance on silence), all at once. */
function say(s: AsrStream): void {
  for (let off = 0; off < GOFORWARD.length; off += 640) s.write(GOFORWARD.subarray(off, off + 640), 0);
  for (let i = 0; i < 50; i++) s.write(Buffer.alloc(640), 0);
}

t.test('adapter: past LOCAL_ASR_MAX_PROCESSES start() rejects with ASR_OVER_BUDGET; the slot comes back when the process exits', { skip }, async (t) => {
  const logs: LogLine[] = [];
  const logger = createLogger('info', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({ LOCAL_ASR_MAX_PROCESSES: '2' }), logger, process.env));
  t.teardown(() => asr.close());
  const ctl = new AbortController();
  const a = await asr.start({ call: callInfo('a'), signal: ctl.signal });
  const b = await asr.start({ call: callInfo('b', 8000), signal: ctl.signal });
  t.equal(asr.stats.running, 2);
  const refusal = await Promise.resolve(asr.start({ call: callInfo('c'), signal: ctl.signal })).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(refusal instanceof AdapterError, 'an AdapterError');
  t.equal((refusal as AdapterError).code, 'ASR_OVER_BUDGET');
  t.equal((refusal as AdapterError).recoverable, false);
  t.equal(asr.stats.overBudget, 1);

  // spawn() returns once bash runs; it forks its cat and execs the recogniser a moment later.
  await until(() => descendantsNamed(RECOGNISER).length === 2 && descendants().length === 4, 5000, 'two recognisers, each with its cat');
  const ours = descendantsNamed(RECOGNISER);
  t.equal(ours.length, 2, 'two recognisers');
  t.ok(
    ours.every((p) => p.ppid === process.pid),
    'each recogniser is the child Node started (no sh in between)',
  );
  t.ok(
    ours.every((p) => p.nice >= RECOGNISER_NICE),
    `at lower CPU priority: nice ${ours.map((p) => p.nice).join(', ')}`,
  );
  t.equal(descendants().length, 4, 'two processes per recogniser (the recogniser and its cat)');

  // Real speech still comes out (the pipe works).
  say(a);
  t.equal(await firstFinal(a), 'go forward ten meters', 'the recogniser heard the speech');
  a.close();
  // The process has not exited yet (its 'exit' cannot come within this tick): the slot is still held.
  const early = await Promise.resolve(asr.start({ call: callInfo('d'), signal: ctl.signal })).then(
    () => 'started',
    (e: AdapterError) => e.code,
  );
  t.equal(early, 'ASR_OVER_BUDGET', 'close() alone does not free the slot');
  await until(() => asr.stats.running === 1, 5000, 'the first recogniser exited');
  const d = await asr.start({ call: callInfo('d'), signal: ctl.signal });
  t.equal(asr.stats.running, 2, 'after the exit the next start succeeds');
  t.equal(asr.stats.overBudget, 2);

  // Refusals are counted every time and logged once, then summarised.
  const lines = logs.filter((l) => OVER_BUDGET_MSG.test(l.msg));
  t.equal(lines.length, 1, 'one line for the first refusal, the second waits for the summary');
  ctl.abort();
  await asr.close();
  const after = logs.filter((l) => OVER_BUDGET_MSG.test(l.msg));
  t.equal(after.length, 2, 'the summary is written at close');
  t.equal(
    after.reduce((n, l) => n + Number(l.refused), 0),
    2,
    'the lines account for every refusal',
  );
  t.equal(descendantsNamed(RECOGNISER).length, 0, 'close() resolves once every recogniser is gone');
  void b;
  void d;
});

t.test(
  "adapter: the recogniser's bash never reads the user's ~/.bashrc (its stdin is a socket: bash would take itself for an rshd child)",
  { skip },
  async (t) => {
    // A .bashrc that leaves a mark and prints a line: read, the mark would exist and the line would come out as a final
    // (a real one ran `pyenv init`, whose stale rehash lock then kept every recogniser from starting).
    const home = mkdtempSync(join(tmpdir(), 'vgw-home-'));
    const mark = join(home, 'bashrc-ran');
    writeFileSync(join(home, '.bashrc'), `touch ${JSON.stringify(mark)}\necho hello from bashrc\n`);
    const before = { HOME: process.env.HOME, SHLVL: process.env.SHLVL };
    process.env.HOME = home;
    // bash applies the rshd rule only to a top-level shell (SHLVL below 2 once incremented), as under a service manager.
    process.env.SHLVL = '0';
    t.teardown(() => {
      Object.assign(process.env, before);
      rmSync(home, { recursive: true, force: true });
    });
    const asr = createPocketsphinxAsr(adapterContext(loadConfig({}), createLogger('silent'), process.env), { maxProcesses: 1 });
    t.teardown(() => asr.close());
    const s = await asr.start({ call: callInfo('rc'), signal: new AbortController().signal });
    say(s);
    t.equal(await firstFinal(s), 'go forward ten meters', 'the first final is the speech, not a line printed by .bashrc');
    t.notOk(existsSync(mark), '~/.bashrc was not read');
    s.close();
  },
);

t.test('adapter: without bash, the sh + cat pipe works the same way', { skip }, async (t) => {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({}), createLogger('silent'), process.env), { noBash: true, maxProcesses: 1 });
  const ctl = new AbortController();
  const s = await asr.start({ call: callInfo('sh'), signal: ctl.signal });
  say(s);
  // (A forked shell exists for a moment before it execs: wait for the settled tree.)
  const settled = () =>
    descendants()
      .map((p) => p.comm)
      .sort();
  await until(() => settled().join() === 'cat,pocketsphinx_co,sh', 5000, 'sh, cat and the recogniser');
  const tree = settled();
  t.same(tree, ['cat', 'pocketsphinx_co', 'sh'], 'sh, cat and the recogniser');
  t.equal(await firstFinal(s), 'go forward ten meters');
  s.close();
  await asr.close();
  t.equal(descendants().length, 0, 'all gone');
  t.equal(asr.stats.running, 0);
});

t.test('a queued start keeps its audio: the recogniser hears words spoken before it could start', { skip }, async (t) => {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({}), createLogger('silent'), process.env), { maxProcesses: 3, maxStarting: 1 });
  t.teardown(() => asr.close());
  const ctl = new AbortController();
  const streams = await Promise.all([1, 2, 3].map(async (i) => asr.start({ call: callInfo(`q${i}`), signal: ctl.signal })));
  t.equal(asr.stats.startsQueued, 2, 'one loads its model, two wait');
  // (Counted by name: the bash of a process substitution exists for a moment before it execs `cat`.)
  t.ok(descendants().filter((p) => p.comm.startsWith('pocketsphinx')).length <= 1, 'only one recogniser process so far');
  t.equal((asr.stats as { starting: number }).starting, 1, 'one starting');
  const last = must(streams[2]);
  say(last);
  t.equal(await firstFinal(last), 'go forward ten meters', 'audio written while queued reached the recogniser');
  t.equal(asr.stats.startsQueued, 0, 'the queue drained');
  ctl.abort();
});

t.test('100 legs at once against the default offline pipeline: the budget holds, the bystander is served', { skip }, async (t) => {
  const BUDGET = 3;
  const BURST = 100;
  const g = await startGateway(t, {
    ASR_ADAPTER: 'local',
    TTS_ADAPTER: 'flite',
    BOT_ADAPTER: 'echo',
    LOCAL_ASR_MAX_PROCESSES: String(BUDGET),
    UPGRADE_RATE_PER_SOURCE: '1000',
    UPGRADE_BURST_PER_SOURCE: '1000',
    // The burst queues 100 greetings in Flite's 2 worker threads (tens of seconds of synthesis): the bystander's reply
    // waits its turn in that queue, which the default first-audio bound (5 s) would count as a failed TTS.
    TTS_FIRST_AUDIO_TIMEOUT_MS: '60000',
  });
  const ws = `ws://127.0.0.1:${g.port}/socket`;

  // Watch the process tree and /healthz for the whole test.
  let maxRecognisers = 0;
  let maxTree = 0;
  let maxStarting = 0;
  const stats = (g.gw.adapters.asr as unknown as { stats: { running: number; starting: number } }).stats;
  const watch = setInterval(() => {
    const tree = descendants();
    maxTree = Math.max(maxTree, tree.length);
    maxRecognisers = Math.max(maxRecognisers, tree.filter((p) => p.comm.startsWith('pocketsphinx')).length);
    maxStarting = Math.max(maxStarting, stats.starting);
  }, 100);
  let polling = true;
  let worstHealthMs = 0;
  let healthPolls = 0;
  let healthFailures = 0;
  const healthLoop = (async () => {
    while (polling) {
      const t0 = performance.now();
      try {
        const r = await fetch(`${g.url}/healthz`, { signal: AbortSignal.timeout(10000) });
        await r.text();
        if (r.status !== 200) healthFailures++;
      } catch {
        healthFailures++;
      }
      worstHealthMs = Math.max(worstHealthMs, performance.now() - t0);
      healthPolls++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.teardown(() => {
    clearInterval(watch);
    polling = false;
  });

  // The bystander: a Vonage-like caller (a frame every 20 ms), whose recogniser starts first, within the budget.
  const by = await openRawLeg(ws);
  by.handshake('audio/l16;rate=16000', { uuid: 'bystander' });
  const caller = new ContinuousCaller(by.ws, 640);
  caller.start();
  t.teardown(() => caller.stop());
  await until(() => stats.running === 1, 10000, 'the bystander has its recogniser');
  await untilLog(g, (l) => l.msg === 'reply played' && l.call === 'bystander' && l.replyId === 1, 30000, 'bystander greeting played');

  // The burst: 100 legs at once from one source.
  const legs: RawLeg[] = await Promise.all(Array.from({ length: BURST }, () => openRawLeg(ws)));
  legs.forEach((l, i) => l.handshake('audio/l16;rate=16000', { uuid: `burst-${i}` }));
  await until(() => g.gw.tracker.size === BURST + 1, 30000, 'every burst leg accepted');
  await until(() => stats.running + g.gw.metrics.sources.localAsr!.overBudget >= BURST + 1, 30000, 'every call started or refused its ASR');

  // The bystander speaks during the burst and is heard, and answered.
  const before = by.binary.length;
  await caller.say(Buffer.concat([GOFORWARD, Buffer.alloc(16000)]));
  const heard = await untilLog(g, (l) => l.msg === 'transcript' && l.call === 'bystander', 30000, 'bystander transcript');
  // Played like Vonage (low noise between words, after a minute of it) the engine's last words vary, burst or not
  // ("go forward through years" with 2 legs); the first two are what it reliably gets.
  const w = wer('go forward ten meters', String(heard.text));
  t.match(heard.text, /^go forward\b/, `the bystander was heard during the burst: "${heard.text}" (WER ${(w * 100).toFixed(0)} %)`);
  await untilLog(g, (l) => l.msg === 'reply played' && l.call === 'bystander' && l.replyId === 2, 30000, 'bystander reply played');
  const reply = by.binary.slice(before);
  t.ok(reply.length >= 50, `the bystander's reply audio flowed (${reply.length} frames)`);
  t.ok(
    by.binary.every((f) => f.length === 640),
    'every bystander frame is exactly 20 ms',
  );

  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_local_asr_over_budget_total'), BURST + 1 - BUDGET, 'every call past the budget counted');
  t.equal(metricValue(m, 'gateway_local_asr_processes'), BUDGET, 'the gauge shows the budget in use');
  t.equal(metricValue(m, 'gateway_active_calls'), BURST + 1, 'the refused calls go on (without ASR)');
  t.ok(
    legs.every((l) => l.ws.readyState === l.ws.OPEN),
    'no burst leg was closed for lack of ASR',
  );

  // Every burst leg closes; the bystander's recogniser is the only one left, then none.
  for (const l of legs) l.ws.close();
  await until(() => g.gw.tracker.size === 1, 30000, 'burst calls ended');
  await until(() => stats.running === 1 && descendantsNamed(RECOGNISER).length === 1, 10000, 'burst recognisers gone');
  by.ws.close();
  await until(() => descendantsNamed(RECOGNISER).length === 0 && stats.running === 0, 10000, 'every recogniser gone');
  polling = false;
  clearInterval(watch);
  await healthLoop;

  t.ok(maxRecognisers <= BUDGET, `recognisers never exceeded the budget (max seen ${maxRecognisers})`);
  t.ok(maxRecognisers >= 1, 'the watcher saw them');
  t.ok(maxTree <= 2 * BUDGET, `two processes per recogniser at most (max tree ${maxTree})`);
  t.ok(maxStarting <= 2, `at most two loading their model at once (max seen ${maxStarting})`);
  t.equal(healthFailures, 0, `/healthz answered every poll (${healthPolls})`);
  t.ok(worstHealthMs < 2000, `/healthz worst latency ${worstHealthMs.toFixed(0)} ms`);
  t.comment(`/healthz worst latency during the burst: ${worstHealthMs.toFixed(0)} ms over ${healthPolls} polls`);

  // Counted every time, logged a bounded number of times; the lines add up to every refusal.
  await g.gw.close();
  const lines = g.logs.filter((l) => OVER_BUDGET_MSG.test(l.msg));
  t.ok(lines.length >= 1 && lines.length <= 3, `the refusals were logged in ${lines.length} line(s), not ${BURST + 1 - BUDGET}`);
  t.equal(
    lines.reduce((n, l) => n + Number(l.refused), 0),
    BURST + 1 - BUDGET,
    'the lines account for every refusal',
  );
  const perCall = g.logs.filter(
    (l) =>
      !OVER_BUDGET_MSG.test(l.msg) &&
      (l.code === 'ASR_OVER_BUDGET' || /LOCAL_ASR_MAX_PROCESSES/.test(String((l.err as { message?: string } | undefined)?.message ?? ''))),
  ).length;
  t.comment(`per-call lines about the refusal written by the call session: ${perCall}`);
  t.equal(perCall, 0, 'the call session does not log each refused ASR start');
});
