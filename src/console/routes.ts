/**
 * The console's HTTP side: the page and its assets (static files from the package's `console/` folder, read once at
 * start), and the live feed (`/console/events`, Server-Sent Events). Everything under `/console` passes the token gate
 * first. Built only when CONSOLE_ENABLED=true; on a non-loopback HOST without CONSOLE_TOKEN it refuses (logged).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsoleSettings, ServerSettings } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';
import type { ObservedCall } from '../call/observer.js';
import { sendJson } from '../webhooks/http.js';
import { checkConsoleAuth, consoleCookie, isLoopbackHost } from './auth.js';
import { ConsoleHub } from './hub.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
const CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The page's folder: `<package root>/console`, found from both `src/console` and `dist/src/console`. */
export function staticDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = join(here, up, 'console');
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  throw new Error(`console page not found near ${here} (expected <package root>/console/index.html)`);
}

export interface ConsoleRoutes {
  readonly hub: ConsoleHub;
  /** Handle a request whose path is `/console` or under it. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, path: string): void;
  close(): void;
}

/**
 * Build the console, or return undefined (with a log line saying why) when it is off or refused.
 * `sessions` lists the live calls.
 */
export function createConsole(
  config: ConsoleSettings & Pick<ServerSettings, 'host' | 'publicUrl'>,
  sessions: () => Iterable<ObservedCall>,
  logger: Logger,
): ConsoleRoutes | undefined {
  if (!config.consoleEnabled) return undefined;
  if (!config.consoleToken && !isLoopbackHost(config.host)) {
    logger.warn(
      { host: config.host },
      'console NOT enabled: HOST is not a loopback address and CONSOLE_TOKEN is not set (set CONSOLE_TOKEN, or HOST=127.0.0.1)',
    );
    return undefined;
  }
  const dir = staticDir();
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { body: readFileSync(join(dir, name)), type });
  }
  const hub = new ConsoleHub({ sessions, logger: logger.child({ component: 'console' }) });
  const secure = config.publicUrl.startsWith('https:');
  logger.info({ path: '/console', token: config.consoleToken ? 'required' : 'none', files: files.size }, 'console enabled');

  function handle(req: IncomingMessage, res: ServerResponse, url: URL, path: string): void {
    const auth = checkConsoleAuth(req, url, config.consoleToken);
    if (!auth.ok) {
      logger.warn({ path: path.slice(0, 100) }, `console refused: ${auth.reason}`);
      return sendJson(res, 401, { error: 'CONSOLE_UNAUTHORIZED', reason: auth.reason });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', reason: `${req.method} not allowed on the console` });
    }
    if (auth.fromQuery) {
      // The token moves from the address bar (and history) into an HttpOnly cookie.
      res.setHeader('set-cookie', consoleCookie(config.consoleToken, secure));
      if (path === '/console') {
        res.writeHead(303, { location: '/console', 'cache-control': 'no-store' });
        return void res.end();
      }
    }
    if (path === '/console/events') {
      if (!hub.attach(res)) sendJson(res, 503, { error: 'UNAVAILABLE', reason: 'too many console clients' });
      return;
    }
    const name = path === '/console' ? 'index.html' : path.slice('/console/'.length);
    const f = files.get(name);
    if (!f) return sendJson(res, 404, { error: 'NOT_FOUND', reason: `no console file ${name.slice(0, 100)}` });
    res.writeHead(200, {
      'content-type': f.type,
      'content-length': f.body.length,
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // The softphone asks for the microphone; nothing else may.
      'permissions-policy': 'microphone=(self), camera=()',
    });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  }

  return { hub, handle, close: () => hub.close() };
}
