/**
 * Call-eval scenarios: the types, and loading them from JSON files (YAML too when the `yaml` package is installed: it
 * is a dev dependency, so JSON is the format that always works). Every file is validated against
 * {@link EVAL_SCENARIO_SCHEMA}; a bad file is refused with its path and the field at fault.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EVAL_SCENARIO_SCHEMA } from './scenario-schema.js';

export type TurnAudio =
  | { type: 'file'; path: string; rawRateHz?: number; gainDb?: number }
  | { type: 'text'; text: string; gainDb?: number }
  | { type: 'cough'; durationMs?: number; levelDbfs?: number; seed?: number }
  | { type: 'silence'; durationMs: number };

export type TurnWhen =
  | { type: 'afterBotStops'; delayMs?: number; quietMs?: number; timeoutMs?: number }
  | { type: 'afterReplyMs'; ms: number; timeoutMs?: number }
  | { type: 'atMs'; ms: number };

/** turn: should be answered (or barge in); backchannel and noise must not stop the bot. */
export type TurnKind = 'turn' | 'backchannel' | 'noise';

export interface ScenarioTurn {
  audio: TurnAudio;
  when: TurnWhen;
  kind: TurnKind;
  pauseMs?: number;
  pauseAtMs?: number;
}

export type JitterSpec = { type: 'bursts'; burstEveryMs: number; holdMs: number } | { type: 'random'; maxMs: number; seed?: number };

export interface Impairments {
  bandLimit?: boolean;
  noise?: { snrDb: number; seed?: number };
  jitter?: JitterSpec;
  echo?: { delayMs: number; attenuationDb: number };
}

/** One scripted call (see docs/eval-scenario.schema.json). */
export interface Scenario {
  name: string;
  description?: string;
  rateHz?: 8000 | 16000 | 24000;
  impairments?: Impairments;
  turns: ScenarioTurn[];
  tailMs?: number;
  maxDurationMs?: number;
  durationMs?: number;
  /** Folder of the file it came from (relative audio paths resolve against it). Not part of the file format. */
  baseDir?: string;
}

/** A scenario file that is not valid: `message` names the file and the field. */
export class ScenarioError extends Error {}

let validator: ValidateFunction | undefined;
function validate(): ValidateFunction {
  validator ??= new Ajv({ allErrors: false, strict: false, discriminator: true }).compile(EVAL_SCENARIO_SCHEMA);
  return validator;
}

function describe(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `${at}: unknown field "${String(p.additionalProperty)}"`;
  if (e.keyword === 'required') return `${at}: missing field "${String(p.missingProperty)}"`;
  if (e.keyword === 'enum') return `${at}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'discriminator')
    return `${at}/${String(p.tag)}: ${p.error === 'mapping' ? `unknown type ${JSON.stringify(p.tagValue)}` : 'missing or not a string'}`;
  return `${at}: ${e.message ?? 'invalid'}`;
}

/** Validate a parsed scenario; throws {@link ScenarioError} naming `source` and the field at fault. */
export function parseScenario(value: unknown, source: string): Scenario {
  const v = validate();
  if (!v(value)) throw new ScenarioError(`${source}: ${describe((v.errors as ErrorObject[])[0]!)}`);
  const s = value as Scenario;
  s.turns.forEach((t, i) => {
    if (t.pauseAtMs !== undefined && t.pauseMs === undefined) throw new ScenarioError(`${source}: /turns/${i}/pauseAtMs: needs pauseMs`);
  });
  return s;
}

async function parseText(text: string, path: string): Promise<unknown> {
  if (/\.ya?ml$/i.test(path)) {
    let yaml: { parse(s: string): unknown };
    try {
      yaml = await import('yaml');
    } catch {
      throw new ScenarioError(`${path}: YAML needs the "yaml" package (a dev dependency); write the scenario as JSON`);
    }
    try {
      return yaml.parse(text);
    } catch (err) {
      throw new ScenarioError(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ScenarioError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}

/** Read and validate one scenario file. */
export async function loadScenarioFile(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const s = parseScenario(await parseText(text, path), path);
  s.baseDir = dirname(resolve(path));
  return s;
}

const SCENARIO_EXT = new Set(['.json', '.yaml', '.yml']);

/** Files and folders (every .json/.yaml/.yml inside, sorted), comma lists allowed; names must be unique. */
export async function loadScenarios(specs: readonly string[]): Promise<Scenario[]> {
  const files: string[] = [];
  for (const spec of specs
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)) {
    let isDir: boolean;
    try {
      isDir = statSync(spec).isDirectory();
    } catch {
      throw new ScenarioError(`${spec}: no such file or folder`);
    }
    if (isDir)
      files.push(
        ...readdirSync(spec)
          .filter((f) => SCENARIO_EXT.has(extname(f).toLowerCase()) && !f.endsWith('.schema.json'))
          .sort()
          .map((f) => join(spec, f)),
      );
    else files.push(spec);
  }
  if (!files.length) throw new ScenarioError(`no scenario files in ${specs.join(', ')}`);
  const out: Scenario[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    const s = await loadScenarioFile(f);
    const prev = seen.get(s.name);
    if (prev) throw new ScenarioError(`${f}: scenario name "${s.name}" is also used by ${prev}`);
    seen.set(s.name, f);
    out.push(s);
  }
  return out;
}
