/** A JSON object of gateway settings (`BENCH_GATEWAY_ENV`, `--ab=`) as env strings, for a same-run A/B of a feature. */
export function settingsFromJson(raw: string | undefined, what: string): Record<string, string> {
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${what} must be a JSON object of settings, e.g. {"ECHO_GUARD":"off"}`);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/** `--set=KEY=VALUE,KEY2=VALUE2` (settings added to every run of a bench, for an A/B of one setting in the same period). */
export function settingsFromArgs(argv: readonly string[]): Record<string, string> {
  const raw = argv.find((a) => a.startsWith('--set='))?.slice('--set='.length) ?? '';
  return Object.fromEntries(
    raw
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}
