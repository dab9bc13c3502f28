/**
 * Vonage's side of opening a call, shared by the simulator (`vgw simulate`) and the call evals (`vgw eval`): fetch the
 * NCCO from the answer webhook, find the WebSocket it names, open it and send the `websocket:connected` handshake with
 * the NCCO's headers flattened in, as Vonage does. What happens on the open socket is the caller's business.
 */
import WebSocket from 'ws';
import { parseContentType } from '../leg/handshake.js';

/** Who is calling, and how the answer webhook is asked. */
export interface AnswerRequest {
  /** Gateway base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  uuid: string;
  conversationUuid: string;
  answerMethod?: 'GET' | 'POST';
  from?: string;
  to?: string;
}

/** The WebSocket endpoint of an NCCO `connect` action. */
export interface WebsocketEndpoint {
  uri: string;
  contentType: string;
  headers: Record<string, unknown>;
}

/** Call the answer webhook (GET with query fields, or POST JSON) and return the parsed NCCO. */
export async function fetchNcco(o: AnswerRequest): Promise<unknown> {
  const fields: Record<string, string> = {
    uuid: o.uuid,
    conversation_uuid: o.conversationUuid,
    from: o.from ?? '447700900001',
    to: o.to ?? '447700900000',
    region_url: 'https://api-us-3.vonage.com',
  };
  const base = o.url.replace(/\/+$/, '');
  const answerUrl = `${base}/webhooks/answer`;
  let res: Response;
  try {
    res =
      o.answerMethod === 'POST'
        ? await fetch(answerUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(fields),
            signal: AbortSignal.timeout(5000),
          })
        : await fetch(`${answerUrl}?${new URLSearchParams(fields).toString()}`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    // fetch says only "fetch failed": name the URL and the cause (ECONNREFUSED, ENOTFOUND, a timeout, …).
    throw new Error(
      `cannot reach the gateway's answer webhook ${answerUrl}: ${fetchCause(err)}${/ECONNREFUSED/.test(fetchCause(err)) ? ' (is the gateway running? start it with npm start)' : ''}`,
      { cause: err },
    );
  }
  const body = await res.text();
  if (res.status !== 200) throw new Error(`answer webhook answered ${res.status}: ${body.slice(0, 200)}`);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new Error(`answer webhook returned non-JSON: ${body.slice(0, 200)}`);
  }
}

/** The innermost useful reason of a failed fetch: undici wraps the socket error as `cause` of "fetch failed". */
export function fetchCause(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const x = e as { name?: string; code?: string; message?: string; cause?: unknown; errors?: unknown[] };
    if (x.name === 'TimeoutError') return 'no answer within 5 s';
    const msg =
      x.code && !String(x.message ?? '').includes(x.code)
        ? `${x.code} ${x.message ?? ''}`.trim()
        : (x.message ?? (typeof e === 'string' ? e : 'an error without a message'));
    if (msg && msg !== 'fetch failed') parts.push(msg);
    // An AggregateError (IPv4 and IPv6 both refused) carries its reasons in `errors`.
    e = x.cause ?? (Array.isArray(x.errors) ? x.errors[0] : undefined);
  }
  return parts.at(-1) ?? 'fetch failed';
}

/** The first `connect` action's WebSocket endpoint in an NCCO; throws a readable error when there is none. */
export function websocketEndpoint(ncco: unknown): WebsocketEndpoint {
  if (!Array.isArray(ncco)) throw new Error('NCCO is not an array');
  for (const action of ncco as Array<Record<string, unknown>>) {
    if (action?.action !== 'connect' || !Array.isArray(action.endpoint)) continue;
    const ep = (action.endpoint as Array<Record<string, unknown>>)[0];
    if (ep?.type === 'websocket' && typeof ep.uri === 'string') {
      return {
        uri: ep.uri,
        contentType: typeof ep['content-type'] === 'string' ? ep['content-type'] : 'audio/l16;rate=16000',
        headers: (ep.headers as Record<string, unknown>) ?? {},
      };
    }
  }
  throw new Error(`NCCO has no connect to a websocket: ${JSON.stringify(ncco).slice(0, 200)}`);
}

/** The leg's sample rate from the endpoint's content-type; throws when it is not one Vonage supports. */
export function endpointRateHz(ep: WebsocketEndpoint): number {
  const rate = parseContentType(ep.contentType);
  if (!rate) throw new Error(`NCCO content-type ${ep.contentType} is not one Vonage supports`);
  return rate;
}

/** Open the WebSocket (no handshake yet: the caller attaches its handlers first, then {@link sendHandshake}). */
export async function connectWebsocket(uri: string): Promise<WebSocket> {
  const ws = new WebSocket(uri, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode} from ${uri}`)));
    ws.once('error', (err) => reject(new Error(`WebSocket connection to ${uri} failed: ${fetchCause(err)}`)));
  });
  return ws;
}

/** Vonage's first message: `websocket:connected` with the content-type and the NCCO headers flattened in. */
export function sendHandshake(ws: WebSocket, ep: WebsocketEndpoint, overrides: Record<string, unknown> = {}): void {
  ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': ep.contentType, ...ep.headers, ...overrides }));
}

/** Parse one text message from the gateway: notify and clear go to the playout, anything else is returned. */
export function routeGatewayText(data: { toString(): string }, playout: { notify(p: unknown): void; clear(): void }): unknown {
  let msg: { action?: string; payload?: unknown };
  try {
    msg = JSON.parse(data.toString()) as typeof msg;
  } catch {
    return data.toString();
  }
  if (msg.action === 'notify') playout.notify(msg.payload);
  else if (msg.action === 'clear') playout.clear();
  else return msg;
  return undefined;
}

/** How a leg ended. */
export interface LegEnd {
  closeCode: number | null;
  closeReason: string;
  closedBy: 'simulator' | 'gateway' | null;
}

/**
 * Vonage's clock: calls `tick(n)` for n = 0, 1, 2 … at `t0 + n·20 ms` (each timeout aims at the absolute time, so
 * lateness never accumulates) until the socket closes. `tick` returns false to hang up (close 1000, "caller hung up").
 * An abort signal hangs up too. Resolves when the socket has closed.
 */
export function runLegClock(ws: WebSocket, t0: number, signal: AbortSignal | undefined, tick: (n: number) => boolean): Promise<LegEnd> {
  const end: LegEnd = { closeCode: null, closeReason: '', closedBy: null };
  return new Promise<LegEnd>((resolve) => {
    let n = 0;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      end.closedBy ??= 'simulator';
      ws.close(1000, 'aborted');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.on('close', (code, reason) => {
      end.closeCode = code;
      end.closeReason = reason.toString();
      end.closedBy ??= 'gateway';
      if (timer) clearTimeout(timer);
      timer = undefined;
      signal?.removeEventListener('abort', onAbort);
      resolve(end);
    });
    const step = () => {
      timer = undefined;
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!tick(n)) {
        end.closedBy = 'simulator';
        ws.close(1000, 'caller hung up');
        return;
      }
      n++;
      timer = setTimeout(step, Math.max(0, t0 + n * 20 - performance.now()));
    };
    step();
  });
}
