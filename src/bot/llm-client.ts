/**
 * One streamed OpenAI-compatible chat completion (`POST {baseUrl}/chat/completions`, `stream: true`) over Node's
 * global fetch: content deltas are handed to `onContent` as they arrive, tool-call fragments are assembled by index.
 * Works with OpenAI, vLLM, Ollama and llama.cpp servers. Bounded: first-token and overall timeouts, response bytes,
 * SSE event size, content characters, tool calls. Aborting `signal` closes the HTTP connection.
 */
import { SseParser, SseError } from './sse.js';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** Stable failure codes of a completion request. */
export type LlmErrorCode =
  /** Non-2xx HTTP status (`status` set). */
  | 'LLM_HTTP'
  /** No first token within the first-token timeout, or the whole reply exceeded the overall timeout. */
  | 'LLM_TIMEOUT'
  /** Connection refused or reset, DNS failure. */
  | 'LLM_NETWORK'
  /** Not an event stream, an in-stream `error` object, or a stream that ended with nothing. */
  | 'LLM_BAD_RESPONSE'
  /** The response exceeded the byte or event-size bound. */
  | 'LLM_TOO_LARGE'
  /** Cancelled by the caller (barge-in, superseded, call ended): not a failure. */
  | 'LLM_ABORTED';

export class LlmError extends Error {
  constructor(
    readonly code: LlmErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

export interface CompletionRequest {
  /** e.g. `https://api.openai.com/v1` (no trailing slash). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when non-empty. Never logged. */
  apiKey: string;
  /** The JSON body without `stream` (added here). */
  body: Record<string, unknown>;
  /** Aborting it cancels the request and closes the connection (`LLM_ABORTED`). */
  signal: AbortSignal;
  firstTokenTimeoutMs: number;
  totalTimeoutMs: number;
  /** Content past this many characters ends the stream early (`finishReason: 'length'`). */
  maxContentChars: number;
  /** Each content delta, as it arrives. */
  onContent(text: string): void;
}

export interface CompletionResult {
  content: string;
  toolCalls: ToolCall[];
  /** `stop`, `length`, `tool_calls`, … or null when the server sent none. */
  finishReason: string | null;
  /** `data:` lines that were not JSON and were skipped. */
  malformedEvents: number;
}

/** Largest streamed response accepted (bytes). */
export const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;
const MAX_EVENT_CHARS = 64 * 1024;
const MAX_TOOL_CALLS = 8;
const MAX_ERROR_BODY_BYTES = 2048;

interface Delta {
  content?: unknown;
  tool_calls?: Array<{ index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } }>;
}

export async function streamChatCompletion(req: CompletionRequest): Promise<CompletionResult> {
  const ctl = new AbortController();
  let why: LlmErrorCode | undefined;
  let whyText = '';
  const stop = (code: LlmErrorCode, text: string) => {
    if (ctl.signal.aborted) return;
    why = code;
    whyText = text;
    ctl.abort();
  };
  const onOuterAbort = () => stop('LLM_ABORTED', 'cancelled');
  if (req.signal.aborted) throw new LlmError('LLM_ABORTED', 'cancelled');
  req.signal.addEventListener('abort', onOuterAbort, { once: true });
  let firstTimer: NodeJS.Timeout | undefined = setTimeout(
    () => stop('LLM_TIMEOUT', `no first token within ${req.firstTokenTimeoutMs} ms`),
    req.firstTokenTimeoutMs,
  );
  const totalTimer = setTimeout(() => stop('LLM_TIMEOUT', `reply not finished within ${req.totalTimeoutMs} ms`), req.totalTimeoutMs);
  const gotToken = () => {
    if (firstTimer) clearTimeout(firstTimer);
    firstTimer = undefined;
  };
  const failure = (err: unknown, fallback: LlmErrorCode): LlmError =>
    err instanceof LlmError ? err : why ? new LlmError(why, whyText) : new LlmError(fallback, (err as Error)?.message ?? String(err));

  const result: CompletionResult = { content: '', toolCalls: [], finishReason: null, malformedEvents: 0 };
  const calls: Array<{ id: string; name: string; args: string }> = [];
  let finished = false;
  try {
    let res: Response;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
      if (req.apiKey) headers.authorization = `Bearer ${req.apiKey}`;
      res = await fetch(`${req.baseUrl}/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...req.body, stream: true }),
        signal: ctl.signal,
      });
    } catch (err) {
      throw failure(err, 'LLM_NETWORK');
    }
    if (!res.ok) {
      const text = await readCapped(res, MAX_ERROR_BODY_BYTES).catch(() => '');
      throw new LlmError('LLM_HTTP', `HTTP ${res.status}: ${errorMessage(text)}`, res.status);
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      await res.body?.cancel().catch(() => {});
      throw new LlmError('LLM_BAD_RESPONSE', `expected text/event-stream, got ${type || 'no content type'}`);
    }
    if (!res.body) throw new LlmError('LLM_BAD_RESPONSE', 'empty body');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader(); // fetch's body is bytes
    const decoder = new TextDecoder();
    const sse = new SseParser(MAX_EVENT_CHARS);
    let bytes = 0;
    try {
      while (!finished) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        if (bytes > MAX_RESPONSE_BYTES) throw new LlmError('LLM_TOO_LARGE', `response larger than ${MAX_RESPONSE_BYTES} bytes`);
        let events;
        try {
          events = sse.push(decoder.decode(value, { stream: true }));
        } catch (err) {
          if (err instanceof SseError) throw new LlmError('LLM_TOO_LARGE', err.message);
          throw err;
        }
        for (const ev of events) {
          if (ev.data.trim() === '[DONE]') {
            finished = true;
            break;
          }
          let obj: { choices?: Array<{ delta?: Delta; finish_reason?: unknown }>; error?: { message?: unknown } | string };
          try {
            obj = JSON.parse(ev.data) as typeof obj;
          } catch {
            result.malformedEvents++;
            continue;
          }
          if (!obj || typeof obj !== 'object') {
            result.malformedEvents++;
            continue;
          }
          if (obj.error) throw new LlmError('LLM_BAD_RESPONSE', `server error in stream: ${errorMessage(JSON.stringify(obj))}`);
          const choice = Array.isArray(obj.choices) ? obj.choices[0] : undefined;
          if (!choice) continue;
          if (typeof choice.finish_reason === 'string') result.finishReason = choice.finish_reason;
          const delta = choice.delta;
          if (!delta || typeof delta !== 'object') continue;
          if (Array.isArray(delta.tool_calls)) {
            gotToken();
            addToolFragments(calls, delta.tool_calls);
          }
          if (typeof delta.content === 'string' && delta.content) {
            gotToken();
            let text = delta.content;
            const room = req.maxContentChars - result.content.length;
            if (text.length >= room) {
              text = text.slice(0, Math.max(0, room));
              result.finishReason = 'length';
              finished = true;
            }
            result.content += text;
            if (text) req.onContent(text);
            if (finished) break;
          }
        }
      }
    } catch (err) {
      throw failure(err, 'LLM_NETWORK');
    } finally {
      // Done, failed or cut short: release the stream (closes the connection when unfinished).
      reader.cancel().catch(() => {});
    }
    if (!finished && !result.content && !calls.length && result.finishReason === null) {
      throw new LlmError(
        'LLM_BAD_RESPONSE',
        result.malformedEvents ? `stream had only malformed events (${result.malformedEvents})` : 'stream ended without any data',
      );
    }
    finished = true;
  } finally {
    if (firstTimer) clearTimeout(firstTimer);
    clearTimeout(totalTimer);
    req.signal.removeEventListener('abort', onOuterAbort);
    if (!finished) ctl.abort();
  }
  result.toolCalls = calls.map((c, i) => ({ id: c.id || `call_${i}`, type: 'function', function: { name: c.name, arguments: c.args } }));
  return result;
}

/** Streamed tool calls come in fragments: `index` says which call, `name` once, `arguments` in pieces. */
function addToolFragments(calls: Array<{ id: string; name: string; args: string }>, frags: NonNullable<Delta['tool_calls']>): void {
  for (const f of frags) {
    if (!f || typeof f !== 'object') continue;
    let i = typeof f.index === 'number' && Number.isInteger(f.index) ? f.index : -1;
    // Some servers omit `index` and send each call whole: match by id, else append.
    if (i < 0) i = typeof f.id === 'string' && f.id ? calls.findIndex((c) => c.id === f.id) : -1;
    if (i < 0) i = calls.length;
    if (i >= MAX_TOOL_CALLS) continue;
    while (calls.length <= i) calls.push({ id: '', name: '', args: '' });
    const c = calls[i]!;
    if (typeof f.id === 'string' && f.id && !c.id) c.id = f.id;
    const name = f.function?.name;
    if (typeof name === 'string' && name && name !== c.name) c.name += name;
    const args = f.function?.arguments;
    if (typeof args === 'string') c.args += args;
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = (res.body as ReadableStream<Uint8Array>).getReader(); // fetch's body is bytes
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < maxBytes) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(parts).subarray(0, maxBytes).toString('utf8');
}

/** The provider's error message from a JSON error body, else the text itself (short, one line). */
function errorMessage(text: string): string {
  let msg = text;
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string') msg = m;
  } catch {
    /* not JSON */
  }
  return msg.replace(/\s+/g, ' ').trim().slice(0, 200);
}
