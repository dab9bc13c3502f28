/**
 * Resolves an adapter setting (`ASR_ADAPTER`, `BOT_ADAPTER`, `TTS_ADAPTER`) to a factory: a built-in name, or a module
 * path (relative to the working directory, or absolute, or a package name containing `/` or ending in .js/.mjs/.cjs)
 * that exports a factory as `default`, `create`, or `create<Kind>Adapter`.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { GatewayError, type AdapterKind } from '../errors.js';

export type { AdapterKind };

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || /\.(c|m)?js$/.test(spec) || spec.startsWith('file:');
}

/**
 * @param builtins name → factory for the built-in adapters.
 * @throws GatewayError ADAPTER_LOAD_FAILED with a message that says what was tried.
 */
export async function resolveFactory<F extends (...args: never[]) => unknown>(
  kind: AdapterKind,
  spec: string,
  builtins: Readonly<Record<string, F>>,
  cwd = process.cwd(),
): Promise<F> {
  if (Object.prototype.hasOwnProperty.call(builtins, spec)) return builtins[spec]!;
  const envName = `${kind.toUpperCase()}_ADAPTER`;
  let url: string;
  if (spec.startsWith('file:')) url = spec;
  else if (looksLikePath(spec)) url = pathToFileURL(resolve(cwd, spec)).href;
  else if (spec.includes('/') || spec.startsWith('@'))
    url = spec; // a package
  else
    throw new GatewayError(
      'ADAPTER_LOAD_FAILED',
      `${envName}=${spec}: not a built-in (${Object.keys(builtins).join(', ')}) nor a module path (start it with ./ or /)`,
    );
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new GatewayError('ADAPTER_LOAD_FAILED', `${envName}=${spec}: cannot import module: ${(err as Error).message}`, { cause: err });
  }
  const named = `create${kind === 'asr' ? 'Asr' : kind === 'bot' ? 'Bot' : 'Tts'}Adapter`;
  const candidate = [mod[named], mod.create, mod.default].find((x) => typeof x === 'function');
  if (!candidate) throw new GatewayError('ADAPTER_LOAD_FAILED', `${envName}=${spec}: module exports no factory (export default, create or ${named})`);
  return candidate as F;
}
