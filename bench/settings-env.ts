/** A JSON object of gateway settings (`BENCH_GATEWAY_ENV`, `--ab=`) as env strings, for a same-run A/B of a feature. */
export function settingsFromJson(raw: string | undefined, what: string): Record<string, string> {
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${what} must be a JSON object of settings, e.g. {"ECHO_GUARD":"off"}`);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}
