/**
 * Which REST host call control may use for a call. Vonage gives each call a `region_url` (answer webhook → NCCO
 * `headers` → handshake → `CallInfo.metadata.region_url`), but that value crossed the network: the JWT signed with the
 * application's private key must never be sent to a host taken from it unless that host is Vonage's (or the operator's
 * own configured VONAGE_API_URL host).
 */

/** Vonage's REST hosts: `api-us-3.vonage.com`, `api.nexmo.com`, … (a label before the suffix is required). */
const VONAGE_HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:vonage|nexmo)\.com$/;

export interface ResolvedApiUrl {
  /** Base URL to use (origin only, no trailing slash). */
  apiUrl: string;
  /** Set when a `region_url` was given but refused: why (for a warning). The default was used instead. */
  rejected?: string;
}

/**
 * The base URL for a call: its `region_url` when acceptable, else `defaultApiUrl`.
 * Accepted: an `https:` URL on the default port without credentials, query or path (other than `/`) whose host is
 * `*.vonage.com` or `*.nexmo.com`; or a URL with exactly the origin (protocol, host and port) of `defaultApiUrl` (the
 * operator's choice). Another port of the operator's host is another service: refused.
 */
export function resolveApiUrl(regionUrl: unknown, defaultApiUrl: string): ResolvedApiUrl {
  const fallback = new URL(defaultApiUrl).origin;
  if (regionUrl === undefined || regionUrl === null || regionUrl === '') return { apiUrl: fallback };
  if (typeof regionUrl !== 'string' || regionUrl.length > 256) return { apiUrl: fallback, rejected: 'not a string of at most 256 characters' };
  let u: URL;
  try {
    u = new URL(regionUrl);
  } catch {
    return { apiUrl: fallback, rejected: 'not an absolute URL' };
  }
  if (u.username || u.password) return { apiUrl: fallback, rejected: 'carries credentials' };
  if (u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) return { apiUrl: fallback, rejected: 'has a path, query or fragment' };
  const def = new URL(defaultApiUrl);
  if (u.origin === def.origin) return { apiUrl: u.origin };
  if (u.protocol !== 'https:') return { apiUrl: fallback, rejected: 'not https' };
  if (u.port !== '') return { apiUrl: fallback, rejected: `port ${u.port} is not the https port of a Vonage host` };
  if (!VONAGE_HOST.test(u.hostname)) return { apiUrl: fallback, rejected: `host ${u.hostname.slice(0, 80)} is not a Vonage host` };
  return { apiUrl: u.origin };
}
