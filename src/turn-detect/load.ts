/**
 * Resolves `TURN_DETECTOR` once at start-up: `builtin`, or a module path (like the adapter settings: relative to the
 * working directory, absolute, `file:` or a package name) that exports a detector object or a factory of one as
 * `default`, `create` or `createTurnDetector`. A factory gets the adapter context and may be async.
 *
 * The shape is checked here, so a bad module fails the start with a message naming `TURN_DETECTOR` (the gateway exits
 * non-zero) instead of failing on the first call: an object with a non-empty `name`, a `predict` function, and
 * `close`, if present, a function.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GatewayError } from '../errors.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { builtinTurnDetector } from './heuristic.js';
import type { TurnDetector } from './types.js';

const ENV = 'TURN_DETECTOR';

function fail(spec: string, why: string, cause?: unknown): never {
  throw new GatewayError('ADAPTER_LOAD_FAILED', `${ENV}=${spec}: ${why}`, cause === undefined ? {} : { cause });
}

function urlOf(spec: string, cwd: string): string {
  if (spec.startsWith('file:')) return spec;
  if (spec.startsWith('.') || isAbsolute(spec) || /\.(c|m)?js$/.test(spec)) return pathToFileURL(resolve(cwd, spec)).href;
  if (spec.includes('/') || spec.startsWith('@')) return spec; // a package
  return fail(spec, 'not `builtin` nor a module path (start it with ./ or /)');
}

/** Refuse what would fail on the first call (see the file comment). */
export function checkTurnDetector(spec: string, value: unknown): TurnDetector {
  if (!value || typeof value !== 'object') fail(spec, `the module gave ${value === null ? 'null' : typeof value}, not a detector object { name, predict }`);
  const v = value as Record<string, unknown>;
  if (typeof v.name !== 'string' || !v.name.trim()) fail(spec, 'the detector has no name (a non-empty string property `name`)');
  if (typeof v.predict !== 'function') fail(spec, 'the detector is missing method predict()');
  if (v.close !== undefined && typeof v.close !== 'function') fail(spec, 'close is not a function');
  return value as TurnDetector;
}

/** The configured detector. @throws GatewayError ADAPTER_LOAD_FAILED naming TURN_DETECTOR. */
export async function loadTurnDetector(spec: string, ctx: AdapterContext, cwd = process.cwd()): Promise<TurnDetector> {
  if (spec === 'builtin') return builtinTurnDetector;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(urlOf(spec, cwd))) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    return fail(spec, `cannot import module: ${(err as Error)?.message ?? String(err)}`, err);
  }
  const exported = [mod.createTurnDetector, mod.create, mod.default].find((x) => x !== undefined && x !== null);
  if (exported === undefined) return fail(spec, 'module exports no detector (export default, create or createTurnDetector)');
  let value: unknown = exported;
  if (typeof exported === 'function') {
    try {
      value = await (exported as (c: AdapterContext) => unknown)(ctx);
    } catch (err) {
      return fail(spec, `the detector factory failed: ${(err as Error)?.message ?? String(err)}`, err);
    }
  }
  return checkTurnDetector(spec, value);
}
