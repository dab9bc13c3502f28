/**
 * The console's token gate (CONSOLE_TOKEN). A request is let in by `Authorization: Bearer <token>`, by the HttpOnly
 * cookie, or by `?token=<token>` (which then sets the cookie, so the token leaves the address bar after one load).
 * Tokens are compared in constant time (over SHA-256 digests, so lengths leak nothing either) and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CONSOLE_COOKIE = 'vgw_console';

export type ConsoleAuthResult =
  /** No token configured, or a valid header or cookie. */
  | { ok: true; fromQuery: false }
  /** A valid `?token=`: the caller should set the cookie (see {@link consoleCookie}). */
  | { ok: true; fromQuery: true }
  | { ok: false; reason: string };

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of two strings (any lengths). */
export function tokenEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected)) && given.length === expected.length;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0 || part.slice(0, i).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Check one console request against `token` (empty = the console is open). */
export function checkConsoleAuth(req: IncomingMessage, url: URL, token: string): ConsoleAuthResult {
  if (!token) return { ok: true, fromQuery: false };
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^bearer /i.test(auth) && tokenEquals(auth.slice(7).trim(), token)) return { ok: true, fromQuery: false };
  const cookie = cookieValue(req.headers.cookie, CONSOLE_COOKIE);
  if (cookie !== undefined && tokenEquals(cookie, token)) return { ok: true, fromQuery: false };
  const q = url.searchParams.get('token');
  if (q !== null && tokenEquals(q, token)) return { ok: true, fromQuery: true };
  const given = q !== null || cookie !== undefined || auth !== undefined;
  return { ok: false, reason: given ? 'wrong console token' : 'the console needs its token: open /console?token=… or send Authorization: Bearer …' };
}

/** The Set-Cookie value that carries the token for the page, its assets and its live feed. */
export function consoleCookie(token: string, secure: boolean): string {
  return `${CONSOLE_COOKIE}=${encodeURIComponent(token)}; Path=/console; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Loopback interfaces: a console there is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
