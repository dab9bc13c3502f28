/**
 * `npm run bench:asr`: word error rate of the local ASR, measured. Recorded utterances from pocketsphinx-testdata
 * (an4, cards, librivox; see asr-corpus.ts), each played as one call through a real gateway leg three ways (wideband
 * in a 16 kHz leg, telephone band in a 16 kHz leg, telephone band in an 8 kHz leg), per local-ASR setup: the band fill
 * off (what the gateway did before `ASR_BAND_FILL`) and `auto` (the default; `WITH_FILL_ON=1` adds `on`), and with the set's JSGF grammar
 * where it has one. Plus the IVR example's menu: Flite-spoken answers in four voices, telephone band at 8 kHz, with the
 * menu grammar: the share of answers that choose the right option. Cloud adapters against their fakes are no measure
 * of accuracy and are left out.
 *
 * Writes bench/results/asr.json and asr.md (`--quick`: a few utterances, to bench/results/quick/; `--out=DIR`;
 * `--setups=fill auto,IVR`: only those setups, `--set=KEY=VALUE,…`: settings for every gateway, both to results/quick/).
 * Calls run 3 at a time (CONCURRENCY=n to change). Each call waits for its last final (at most MAX_TAIL_MS, 9 s): on
 * a loaded machine the niced recognisers fall behind, so give a busy machine fewer calls at once and a longer tail.
 */
import { settingsFromArgs } from './settings-env.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOutDir } from './out-dir.js';
import { audioFor, CARDS_GRAMMAR, legRateOf, loadCorpus, WAYS, type Utterance, type Way } from './asr-corpus.js';
import { transcribeThroughGateway, type CallJob } from './asr-calls.js';
import { loadMenuSet, MENU_GRAMMAR, type MenuUtterance } from './asr-menu.js';
import { measureFillCost } from './asr-fill-cost.js';
import { wordErrors } from './wer.js';

const QUICK = process.argv.includes('--quick');
const CONCURRENCY = Math.min(3, Math.max(1, Number(process.env.CONCURRENCY ?? 3)));
/** `--set=KEY=VALUE,…`: settings for every gateway of the run (e.g. `ENDPOINT_ASR_FLUSH_MS=200`), an A/B in the same period. */
const SET = settingsFromArgs(process.argv);
/** `--setups=fill auto,IVR`: only the setups whose name contains one of these (a subset, written to results/quick/ unless --out). */
const ONLY_SETUPS = (process.argv.find((a) => a.startsWith('--setups='))?.slice('--setups='.length) ?? '').split(',').filter(Boolean);
const keep = (s: Setup): boolean => !ONLY_SETUPS.length || ONLY_SETUPS.some((x) => s.name.includes(x));
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Setup {
  name: string;
  fill: 'off' | 'auto' | 'on';
  grammar?: string;
  /** Sets this setup applies to. */
  sets: ReadonlyArray<Utterance['set']>;
}

const ALL_SETUPS: Setup[] = QUICK
  ? [
      { name: 'local, fill off', fill: 'off', sets: ['an4', 'cards'] },
      { name: 'local, fill auto', fill: 'auto', sets: ['an4', 'cards'] },
      { name: 'local + grammar, fill auto', fill: 'auto', grammar: CARDS_GRAMMAR, sets: ['cards'] },
    ]
  : [
      { name: 'local, fill off', fill: 'off', sets: ['an4', 'cards', 'librivox'] },
      { name: 'local, fill auto', fill: 'auto', sets: ['an4', 'cards', 'librivox'] },
      ...(process.env.WITH_FILL_ON ? [{ name: 'local, fill on', fill: 'on' as const, sets: ['an4', 'cards', 'librivox'] as Setup['sets'] }] : []),
      { name: 'local + grammar, fill off', fill: 'off', grammar: CARDS_GRAMMAR, sets: ['cards'] },
      { name: 'local + grammar, fill auto', fill: 'auto', grammar: CARDS_GRAMMAR, sets: ['cards'] },
    ];
const SETUPS = ALL_SETUPS.filter(keep);
const ALL_MENU_SETUPS: Setup[] = [
  { name: 'local + IVR grammar, fill off', fill: 'off', grammar: MENU_GRAMMAR, sets: ['menu'] },
  { name: 'local + IVR grammar, fill auto', fill: 'auto', grammar: MENU_GRAMMAR, sets: ['menu'] },
];
const MENU_SETUPS = ALL_MENU_SETUPS.filter(keep);

interface Row {
  setup: string;
  way: Way;
  set: string;
  id: string;
  ref: string;
  /** Every final of the call, joined by a space (what WER is taken on). */
  hyp: string;
  /** The finals one by one. */
  finals: string[];
  errors: number;
  words: number;
}

let done = 0;
let total = 0;
const progress = () => process.stderr.write(`\rcalls ${++done}/${total}   `);

/** Every (setup, way) pair runs on its own gateway (the settings are per process); its utterances as calls. */
async function run(setups: Setup[], utts: readonly Utterance[], ways: readonly Way[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of setups) {
    for (const rate of [16000, 8000] as const) {
      const legWays = ways.filter((w) => legRateOf(w) === rate);
      const jobs: Array<CallJob & { u: Utterance; way: Way }> = [];
      for (const way of legWays) {
        for (const u of utts.filter((x) => s.sets.includes(x.set))) {
          jobs.push({ id: `${way}-${u.set}-${u.id}`, samples: audioFor(u, way), sampleRateHz: u.sampleRateHz, u, way });
        }
      }
      if (!jobs.length) continue;
      const env: Record<string, string> = { ...SET, AUDIO_RATE: String(rate), ASR_BAND_FILL: s.fill, ...(s.grammar ? { ASR_GRAMMAR: s.grammar } : {}) };
      const heard = await transcribeThroughGateway(env, jobs, CONCURRENCY, progress);
      for (const j of jobs) {
        const finals = heard.get(j.id) ?? [];
        const hyp = finals.join(' ');
        rows.push({ setup: s.name, way: j.way, set: j.u.set, id: j.u.id, ref: j.u.ref, hyp, finals, ...wordErrors(j.u.ref, hyp) });
      }
    }
  }
  return rows;
}

function werOf(rows: readonly Row[]): number | null {
  const w = rows.reduce((a, r) => a + r.words, 0);
  return w ? Math.round((1000 * rows.reduce((a, r) => a + r.errors, 0)) / w) / 10 : null;
}

async function main(): Promise<void> {
  const utts = loadCorpus(QUICK);
  const menu: MenuUtterance[] = await loadMenuSet(QUICK);
  const menuWays: Way[] = ['telephone-8k'];
  total = SETUPS.reduce((a, s) => a + utts.filter((u) => s.sets.includes(u.set)).length * WAYS.length, 0) + MENU_SETUPS.length * menu.length * menuWays.length;
  const fillCost = await measureFillCost();
  const rows = await run(SETUPS, utts, WAYS);
  const menuRows = await run(MENU_SETUPS, menu, menuWays);
  process.stderr.write('\n');

  // WER per setup × way, over all sets and per set.
  const table: WerRow[] = [];
  for (const s of SETUPS) {
    for (const way of WAYS) {
      const mine = rows.filter((r) => r.setup === s.name && r.way === way);
      const perSet: Record<string, number | null> = {};
      for (const set of s.sets) perSet[set] = werOf(mine.filter((r) => r.set === set));
      table.push({ setup: s.name, way, werPct: werOf(mine), perSetWerPct: perSet, utterances: mine.length });
    }
  }
  const menuTable = MENU_SETUPS.map((s) => {
    const mine = menuRows.filter((r) => r.setup === s.name);
    const right = mine.filter((r) => menu.find((m) => m.id === r.id)?.chosen(r.finals)).length;
    const clean = mine.filter((r) => menu.find((m) => m.id === r.id)?.clean(r.finals)).length;
    const pct = (n: number) => (mine.length ? Math.round((1000 * n) / mine.length) / 10 : null);
    return { setup: s.name, way: 'telephone-8k', answers: mine.length, right, rightPct: pct(right), clean, cleanPct: pct(clean) };
  });
  const pick = (setup: string, way: Way) => table.find((r) => r.setup === setup && r.way === way)?.werPct ?? null;
  const goal = {
    telephoneWerBeforePct: { '16k': pick('local, fill off', 'telephone-16k'), '8k': pick('local, fill off', 'telephone-8k') },
    telephoneWerAfterPct: { '16k': pick('local, fill auto', 'telephone-16k'), '8k': pick('local, fill auto', 'telephone-8k') },
    widebandWerPct: { off: pick('local, fill off', 'wideband-16k'), auto: pick('local, fill auto', 'wideband-16k') },
    menuRightPct: menuTable.find((m) => m.setup.endsWith('auto'))?.rightPct ?? null,
  };
  const result = {
    node: process.version,
    quick: QUICK,
    concurrency: CONCURRENCY,
    goal,
    fillCost,
    wer: table,
    menu: menuTable,
    utterances: [...rows, ...menuRows],
  };
  const subset = ONLY_SETUPS.length > 0 || Object.keys(SET).length > 0;
  const dir = benchOutDir(subset ? [...process.argv, '--quick'] : process.argv, RESULTS);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'asr.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(dir, 'asr.md'), markdown(result.goal, table, menuTable, fillCost, rows, menuRows));
  console.log(
    `telephone-band WER (fill off → auto): 16 kHz leg ${goal.telephoneWerBeforePct['16k']} % → ${goal.telephoneWerAfterPct['16k']} %, 8 kHz leg ${goal.telephoneWerBeforePct['8k']} % → ${goal.telephoneWerAfterPct['8k']} %; wideband ${goal.widebandWerPct.off} % → ${goal.widebandWerPct.auto} %; IVR menu at 8 kHz telephone band: ${goal.menuRightPct} % right`,
  );
  console.log(`wrote ${join(dir, 'asr.json')} and asr.md`);
}

/** One row of the WER table: a setup and way over all sets, and per set. */
interface WerRow {
  setup: string;
  way: string;
  werPct: number | null;
  perSetWerPct: Record<string, number | null>;
  utterances: number;
}
/** One row of the IVR menu table. */
interface MenuRow {
  setup: string;
  way: string;
  answers: number;
  right: number;
  rightPct: number | null;
  /** Answers whose finals all together still choose the right option (no false extra final). */
  clean: number;
  cleanPct: number | null;
}

function markdown(
  goal: Record<string, unknown>,
  table: WerRow[],
  menu: MenuRow[],
  cost: Awaited<ReturnType<typeof measureFillCost>>,
  rows: Row[],
  menuRows: Row[],
): string {
  const L: string[] = [];
  L.push(`# Local ASR word error rate (${QUICK ? 'quick run' : 'full run'}, ${new Date().toISOString().slice(0, 10)}, Node ${process.version})`, '');
  L.push(
    'Each utterance is one call through a real gateway leg (simulator → WebSocket → jitter buffer → pocketsphinx child process); WER = word-level edit distance / reference words, over all utterances of the row.',
    '',
  );
  L.push('| setup | way | WER % | per set (WER %) | utterances |', '|---|---|---|---|---|');
  for (const r of table)
    L.push(
      `| ${String(r.setup)} | ${String(r.way)} | ${String(r.werPct ?? '–')} | ${Object.entries(r.perSetWerPct)
        .map(([k, v]) => `${k} ${v ?? '–'}`)
        .join(', ')} | ${String(r.utterances)} |`,
    );
  L.push(
    '',
    '## IVR menu (examples/ivr), telephone band in an 8 kHz leg, menu grammar',
    '',
    '*right*: the option the example chooses (from the first final after the caller spoke, as `ivr-bot.mjs` does) is the one meant; *all finals right*: every final of the call joined still chooses it (no false extra final).',
    '',
    '| setup | answers | right | right % | all finals right | all finals right % |',
    '|---|---|---|---|---|---|',
  );
  for (const m of menu) L.push(`| ${m.setup} | ${m.answers} | ${m.right} | ${String(m.rightPct ?? '–')} | ${m.clean} | ${String(m.cleanPct ?? '–')} |`);
  L.push('', '## Cost of the band fill per 20 ms chunk (16 kHz, same run)', '');
  L.push(
    `fill on: ${cost.fillUsPerChunk} µs; auto, a wideband call once decided (no longer measured): ${cost.measureUsPerChunk} µs; baseline, the adapter's 8→16 kHz resampling of the same chunk: ${cost.resampleUsPerChunk} µs (fill/resample = ${cost.fillToResampleRatio}).`,
    '',
  );
  L.push(
    '## Goals',
    '',
    '```json',
    JSON.stringify(goal, null, 2),
    '```',
    '',
    '## Every utterance',
    '',
    'Each final of the call, in order, separated by " / ".',
    '',
    '| setup | way | id | heard | errors/words |',
    '|---|---|---|---|---|',
  );
  for (const r of [...rows, ...menuRows])
    L.push(`| ${r.setup} | ${r.way} | ${r.set}/${r.id} | ${r.finals.join(' / ') || '(nothing)'} | ${r.errors}/${r.words} |`);
  return L.join('\n') + '\n';
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
