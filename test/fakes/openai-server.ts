/**
 * A fake OpenAI chat-completions server for tests: node:http on 127.0.0.1:0, `POST /v1/chat/completions`, answering
 * with the real SSE wire format (`data: {chat.completion.chunk}\n\n` … `data: [DONE]\n\n`). Each request is checked
 * the way the real API checks it (bearer key, model, `stream: true`, message roles, system prompt first, every tool
 * result answering an earlier assistant tool call, tool schemas) — a bad request gets OpenAI's 400 error body and is
 * recorded in `problems`. Each request takes the next scripted reply: tokens (with `hold` points the test releases,
 * so ordering is proven by control, not timing), tool calls split across chunks, raw (malformed) lines, a reply that
 * never finishes, or an HTTP error. The fake records whether the client closed the connection before the end.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { must } from '../helpers/must.js';

export type Chunk =
  /** One content token. */
  | string
  /** A tool-call fragment (`name` and `id` usually only in the first one of an index). */
  | { tool: { index: number; id?: string; name?: string; args?: string } }
  /** Lines written as they are (e.g. malformed SSE). */
  | { raw: string }
  /** Wait here until the test calls `release(name)`. */
  | { hold: string }
  | { finish: string };

export type Reply =
  | { type: 'stream'; chunks: Chunk[]; /** send `data: [DONE]` (default true) */ done?: boolean }
  /** Headers and one role chunk, then nothing, ever (until the client goes away). */
  | { type: 'hang'; chunks?: Chunk[] }
  | { type: 'error'; status: number; body?: string };

export interface RecordedRequest {
  headers: IncomingMessage['headers'];
  body: { model?: unknown; stream?: unknown; messages?: Array<Record<string, unknown>>; tools?: Array<Record<string, unknown>>; [k: string]: unknown };
  /** The client closed the connection before the reply was complete. */
  clientClosed: boolean;
  /** The reply was written to the end. */
  completed: boolean;
}

export interface FakeOptions {
  apiKey?: string;
  model?: string;
}

export class FakeOpenAi {
  readonly requests: RecordedRequest[] = [];
  /** Requests that the real API would have refused (empty in a passing test). */
  readonly problems: string[] = [];
  private readonly script: Reply[] = [];
  private readonly released = new Set<string>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private server: Server | undefined;
  private readonly open = new Set<ServerResponse>();
  url = '';

  constructor(private readonly opts: FakeOptions = {}) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => (this.server as Server).listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Queue the replies for the next requests, in order. A request with nothing queued gets "OK." */
  reply(...r: Reply[]): void {
    this.script.push(...r);
  }

  release(name: string): void {
    this.released.add(name);
    for (const w of this.waiting.get(name) ?? []) w();
    this.waiting.delete(name);
  }

  /** Is some reply parked at `hold: name`? */
  holding(name: string): boolean {
    return (this.waiting.get(name)?.length ?? 0) > 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: RecordedRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.refuse(res, 400, 'body is not JSON');
    }
    const rec: RecordedRequest = { headers: req.headers, body, clientClosed: false, completed: false };
    this.requests.push(rec);
    const problem = this.check(req, body);
    if (problem) {
      this.problems.push(problem);
      return this.refuse(res, problem.startsWith('401') ? 401 : 400, problem);
    }
    this.open.add(res);
    res.on('close', () => {
      this.open.delete(res);
      if (!res.writableFinished) rec.clientClosed = true;
    });
    const reply = this.script.shift() ?? { type: 'stream', chunks: ['OK.'] };
    if (reply.type === 'error') {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body ?? JSON.stringify({ error: { message: `scripted ${reply.status}`, type: 'server_error', code: null } }));
      rec.completed = true;
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const model = String(body.model);
    const send = (delta: object, finish: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1700000000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
      );
    send({ role: 'assistant', content: '' });
    for (const c of reply.chunks ?? []) {
      if (res.destroyed) return;
      if (typeof c === 'string') send({ content: c });
      else if ('tool' in c) {
        const t = c.tool;
        send({
          tool_calls: [
            { index: t.index, ...(t.id ? { id: t.id, type: 'function' } : {}), function: { ...(t.name ? { name: t.name } : {}), arguments: t.args ?? '' } },
          ],
        });
      } else if ('raw' in c) res.write(c.raw);
      else if ('finish' in c) send({}, c.finish);
      else if ('hold' in c) await this.waitFor(c.hold);
    }
    if (reply.type === 'hang' || res.destroyed) return; // never finishes: the client must give up and close
    if (reply.done !== false) res.write('data: [DONE]\n\n');
    res.end();
    rec.completed = true;
  }

  private waitFor(name: string): Promise<void> {
    if (this.released.has(name)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(name, [...(this.waiting.get(name) ?? []), resolve]));
  }

  private refuse(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } }));
  }

  /** What the real API would refuse. */
  private check(req: IncomingMessage, body: RecordedRequest['body']): string | undefined {
    if (this.opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.opts.apiKey}`) return '401 Incorrect API key provided';
    if (!String(req.headers['content-type']).startsWith('application/json')) return 'content-type is not application/json';
    if (!body || typeof body !== 'object') return 'body is not an object';
    if (this.opts.model !== undefined && body.model !== this.opts.model) return `model ${JSON.stringify(body.model)} does not exist`;
    if (body.stream !== true) return 'stream is not true';
    const msgs = body.messages;
    if (!Array.isArray(msgs) || !msgs.length) return 'messages must be a non-empty array';
    if (must(msgs[0]).role !== 'system' || typeof must(msgs[0]).content !== 'string') return 'the first message is not the system prompt';
    const callIds = new Set<string>();
    for (const [i, m] of msgs.entries()) {
      if (!['system', 'user', 'assistant', 'tool'].includes(String(m.role))) return `messages[${i}].role is invalid`;
      if (m.role === 'assistant') {
        if (typeof m.content !== 'string' && !(m.content === null && Array.isArray(m.tool_calls))) return `messages[${i}].content must be a string`;
        for (const tc of (m.tool_calls as Array<{ id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } }>) ?? []) {
          if (typeof tc.id !== 'string' || tc.type !== 'function' || typeof tc.function?.name !== 'string' || typeof tc.function?.arguments !== 'string')
            return `messages[${i}].tool_calls is malformed`;
          callIds.add(tc.id);
        }
      } else if (m.role === 'tool') {
        if (typeof m.tool_call_id !== 'string' || !callIds.has(m.tool_call_id)) return `messages[${i}]: tool message does not answer a preceding tool call`;
        if (typeof m.content !== 'string') return `messages[${i}].content must be a string`;
      } else if (typeof m.content !== 'string') return `messages[${i}].content must be a string`;
    }
    // Every tool call must be answered before the next user/assistant turn.
    const answered = new Set(msgs.filter((m) => m.role === 'tool').map((m) => m.tool_call_id));
    for (const id of callIds) if (!answered.has(id)) return `tool call ${id} has no tool message`;
    for (const [i, t] of (body.tools ?? []).entries()) {
      const f = t.function as { name?: unknown; parameters?: { type?: unknown } } | undefined;
      if (t.type !== 'function' || typeof f?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(f.name) || f.parameters?.type !== 'object')
        return `tools[${i}] is malformed`;
    }
    return undefined;
  }
}
