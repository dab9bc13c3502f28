/**
 * Settings of OpenTelemetry tracing (OpenTelemetry's own variable names and meanings) and of Vonage answering-machine
 * detection for outbound calls. Part of the one schema in config.ts.
 */
import { httpUrl, int, oneOf, type Spec } from './parsers.js';

export const OTEL_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type OtelSampler = (typeof OTEL_SAMPLERS)[number];
export const AMD_MODES = ['default', 'detect', 'detect_beep'] as const;
export type AmdMode = (typeof AMD_MODES)[number];

export interface TracingConfig {
  /** OTEL_EXPORTER_OTLP_ENDPOINT as given (validated); empty = not set. */
  readonly otelEndpoint: string;
  /** Where spans go (OTLP/HTTP JSON), resolved from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`; empty = tracing off. */
  readonly otelTracesUrl: string;
  /** `OTEL_EXPORTER_OTLP_HEADERS` parsed (`k=v,k2=v2`, values URL-decoded). Secret: never logged. */
  readonly otelHeaders: Readonly<Record<string, string>>;
  readonly otelServiceName: string;
  readonly otelSampler: OtelSampler;
  /** The ratio of the `*traceidratio` samplers, 0 to 1. */
  readonly otelSamplerArg: number;
  /** `vgw call --amd`: Vonage advanced machine detection mode. */
  readonly amdMode: AmdMode;
  /** `vgw call --amd`: longest wait for a voicemail beep, s (30-120); 0 = Vonage's default (not sent). */
  readonly amdBeepTimeoutS: number;
  /** What the built-in echo bot says after a voicemail beep before it hangs up. */
  readonly voicemailText: string;
}

/** An OTLP/HTTP URL (http/https, no query), or '' when not set. */
const otlpUrl = (raw: string): string => (raw.trim() ? httpUrl(raw) : '');

/** `api-key=abc,x-team=voice%20bots` → record (OpenTelemetry's W3C-baggage-like format). */
export function otlpHeaders(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/.test(key)) throw new Error('comma-separated key=value pairs (header names, URL-encoded values)');
    let value: string;
    try {
      value = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new Error('comma-separated key=value pairs (header names, URL-encoded values)');
    }
    if (/[\r\n\0]/.test(value)) throw new Error('header values without line breaks');
    out[key] = value;
  }
  return Object.freeze(out);
}

/** OTEL_EXPORTER_OTLP_HEADERS in the config file: a map `api-key: abc` (values URL-encoded here), or the text. */
function headersFromFile(value: unknown): string {
  if (value === null || typeof value === 'string') return value ?? '';
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error('a map of header: value');
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => {
      if (typeof v !== 'string' && typeof v !== 'number') throw new Error('a map of header: value');
      return `${k}=${encodeURIComponent(String(v))}`;
    })
    .join(',');
}

export const TRACING_SPECS: ReadonlyArray<Spec<keyof TracingConfig>> = [
  {
    key: 'otelEndpoint',
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    def: '',
    doc: 'OpenTelemetry traces on: the OTLP/HTTP collector base URL, `/v1/traces` is appended (e.g. `http://localhost:4318`); empty (and no traces endpoint) = tracing off, the SDK is never loaded. See [tracing.md](tracing.md)',
    parse: (r) => otlpUrl(r),
  },
  {
    key: 'otelTracesUrl',
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    def: '',
    doc: 'The OTLP/HTTP traces URL, used as given (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`)',
    parse: (r, env) => {
      const specific = otlpUrl(r);
      if (specific) return specific;
      let base = '';
      try {
        base = otlpUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
      } catch {
        /* reported by its own row */
      }
      return base ? `${base}/v1/traces` : '';
    },
  },
  {
    key: 'otelHeaders',
    env: 'OTEL_EXPORTER_OTLP_HEADERS',
    def: '',
    secret: true,
    fromFile: headersFromFile,
    doc: 'Headers sent with every export, `key=value` pairs separated by commas, values URL-encoded (e.g. `api-key=…`); never logged',
    parse: otlpHeaders,
  },
  {
    key: 'otelServiceName',
    env: 'OTEL_SERVICE_NAME',
    def: 'vonage-voicebot-gateway',
    doc: 'The `service.name` of the spans (other resource attributes: `OTEL_RESOURCE_ATTRIBUTES`)',
    parse: (r) => {
      if (!/^[\x21-\x7E][\x20-\x7E]{0,254}$/.test(r.trim())) throw new Error('1-255 printable ASCII characters');
      return r.trim();
    },
  },
  {
    key: 'otelSampler',
    env: 'OTEL_TRACES_SAMPLER',
    def: 'parentbased_always_on',
    doc: 'Which calls are traced: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` (a call span is a root, so `parentbased_*` act as their root sampler)',
    parse: oneOf(OTEL_SAMPLERS),
  },
  {
    key: 'otelSamplerArg',
    env: 'OTEL_TRACES_SAMPLER_ARG',
    def: '1',
    doc: 'The fraction of calls traced by the `*traceidratio` samplers, 0 to 1',
    parse: (r) => {
      const v = r.trim();
      const n = Number(v);
      if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(v) || n < 0 || n > 1) throw new Error('a number from 0 to 1');
      return n;
    },
  },
  {
    key: 'amdMode',
    env: 'AMD_MODE',
    def: 'detect_beep',
    doc: '`vgw call --amd`: Vonage advanced machine detection mode: `detect_beep` (the socket connects once detection is over, after the voicemail beep), `detect` (once human or machine is known, no beep), `default` (at once, detection runs alongside; results and the beep arrive mid-call). See *Answering-machine detection*',
    parse: oneOf(AMD_MODES),
  },
  {
    key: 'amdBeepTimeoutS',
    env: 'AMD_BEEP_TIMEOUT_S',
    def: '0',
    doc: "`vgw call --amd`: longest wait for the voicemail beep, 30 to 120 s (then a `beep-timeout` result); 0 = Vonage's default",
    parse: (r) => {
      const n = int(0, 120)(r);
      if (n !== 0 && n < 30) throw new Error('0, or an integer from 30 to 120');
      return n;
    },
  },
  {
    key: 'voicemailText',
    env: 'VOICEMAIL_TEXT',
    def: 'Hello, this is an automated call. Sorry we missed you, we will try again later. Goodbye.',
    doc: 'What the built-in echo bot says after a voicemail beep (answering-machine detection) before it hangs up',
    parse: (r) => {
      const v = r.trim();
      if (!v || v.length > 1000) throw new Error('1-1000 characters');
      return v;
    },
  },
];
