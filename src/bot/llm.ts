/**
 * The LLM bot (`BOT_ADAPTER=llm`): an OpenAI-compatible chat-completions client (OpenAI, vLLM, Ollama, llama.cpp
 * server, via `LLM_BASE_URL`) that talks on the phone.
 *
 * - Each final transcript (or DTMF key, as text) is a user message; one streamed request per turn. Tokens are cut into
 *   sentences and each is sent as `say` as soon as it is complete, so the first one plays while the model is still
 *   writing; the reply ends with `end: true`.
 * - A new user input while a request streams supersedes it (aborted; the new request carries both user messages).
 * - Barge-in: a `playback` event with `interrupted: true` for the reply being streamed aborts the request (the HTTP
 *   connection is closed). The session sends it at the moment it cuts the audio, i.e. after `BARGE_IN_MIN_SPEECH_MS`
 *   of caller speech; `speech-start` alone (VAD, 120 ms: a cough, an "uh-huh") does not abort anything, so noise can
 *   neither silence the bot nor cut a reply the caller keeps hearing.
 * - History records what the caller heard: an interrupted reply keeps the share `heardMs / totalMs` of its text
 *   (cut at a word, "..." appended); a reply interrupted before any of it was heard is dropped.
 * - Tools: `hang_up`, `send_dtmf`, `transfer` (see llm-tools.ts); results go back into the history; after
 *   `send_dtmf` or a rejected call the model is asked again (at most {@link MAX_TOOL_ROUNDS} times per turn).
 * - Failures (HTTP errors, timeouts, bad streams) are counted and logged, and the caller hears a short apology; the
 *   call goes on.
 */
import { Channel } from '../util/channel.js';
import { SentenceSplitter } from '../tts/sentences.js';
import type { BotSettings } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';
import type { AdapterContext } from '../util/adapter-context.js';
import type { BotAdapter, BotInput, BotOutput, BotSession, BotSessionOptions } from './types.js';
import { LlmError, streamChatCompletion, type LlmErrorCode, type ToolCall } from './llm-client.js';
import { ChatHistory, heardPart, type AssistantMessage } from './llm-history.js';
import { runTool, toolSchemas, type ToolPolicy } from './llm-tools.js';

export const APOLOGY = "Sorry, I'm having trouble answering right now. Could you say that again?";
/** Said when the model hangs up without a goodbye of its own. */
export const FALLBACK_GOODBYE = 'Goodbye.';
export const MAX_TOOL_ROUNDS = 3;
const MAX_INPUT_CHARS = 2000;
/** Replies awaiting their playback event (one per reply, in order). */
const MAX_SPOKEN = 32;
const CHARS_PER_TOKEN = 8;
const NO_TOKEN_CAP_CHARS = 16000;

/** Process-wide counters of the LLM bot (plain integers; see the report for the metrics they should become). */
export interface LlmBotStats {
  requests: number;
  /** Requests that streamed to the end. */
  completed: number;
  /** Requests cancelled by barge-in, a newer input or the call ending. */
  aborted: number;
  /** Failed requests by code (each answered with an apology). */
  errors: Record<Exclude<LlmErrorCode, 'LLM_ABORTED'>, number>;
  /** `data:` lines that were not JSON (skipped). */
  malformedEvents: number;
  /** Tool calls by name (`invalid` when rejected). */
  toolCalls: Record<string, number>;
  /** Last request's time to first token (ms), -1 before any. */
  lastFirstTokenMs: number;
  /** Told each request's time to first token (the app turns it into a histogram). */
  onFirstToken?: (ms: number) => void;
}

export interface LlmBotAdapter extends BotAdapter {
  readonly stats: LlmBotStats;
}

interface Shared {
  config: BotSettings;
  logger: Logger;
  stats: LlmBotStats;
  policy: ToolPolicy;
  tools: object[];
}

/** One streamed request and the reply it is producing. */
interface Run {
  gen: number;
  ctl: AbortController;
  cancelled: boolean;
  /** A `say` went out without `end: true` yet. */
  replyOpen: boolean;
  spoke: boolean;
  msg: AssistantMessage | undefined;
}

class LlmBotSession implements BotSession {
  readonly output = new Channel<BotOutput>(256, 'drop-oldest');
  private readonly history: ChatHistory;
  private readonly log: Logger;
  private run: Run | undefined;
  private gen = 0;
  private toolRounds = 0;
  /** Replies said, oldest first, matched one-to-one with the session's playback events. */
  private readonly spoken: Array<{ gen: number; msg: AssistantMessage | undefined }> = [];
  /** Hung up or transferred: the bot says nothing more. */
  private ended = false;
  private closed = false;

  constructor(
    private readonly o: BotSessionOptions,
    private readonly s: Shared,
  ) {
    this.history = new ChatHistory(s.config.llmMaxHistoryMessages);
    this.log = s.logger.child({ call: o.call.callId });
    o.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  input(e: BotInput): void {
    if (this.closed) return;
    if (e.type === 'playback') return this.onPlayback(e);
    if (this.ended) return;
    switch (e.type) {
      case 'start':
        if (this.s.config.llmGreeting) this.greet(this.s.config.llmGreeting);
        return;
      case 'transcript':
        if (e.final && e.text.trim()) this.userTurn(e.text.trim().slice(0, MAX_INPUT_CHARS));
        return;
      case 'dtmf':
        this.userTurn(`The caller pressed ${e.digit} on the keypad.`);
        return;
      default:
        return;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.run) this.cancel(this.run, 'call ended');
    this.output.close();
  }

  private greet(text: string): void {
    const msg: AssistantMessage = { role: 'assistant', content: text };
    this.history.push(msg);
    this.remember(0, msg);
    this.output.push({ type: 'say', text, end: true });
  }

  private userTurn(text: string): void {
    if (this.run) this.cancel(this.run, 'superseded');
    this.history.push({ role: 'user', content: text });
    this.toolRounds = 0;
    this.startRun();
  }

  private onPlayback(e: Extract<BotInput, { type: 'playback' }>): void {
    const said = this.spoken.shift();
    if (!said || !e.interrupted) return;
    const r = this.run;
    if (r && r.gen === said.gen) this.cancel(r, 'barge-in');
    const msg = said.msg;
    if (!msg) return;
    const heard = heardPart(msg.content ?? '', e.heardMs, e.totalMs);
    if (heard) msg.content = heard === msg.content ? heard : `${heard}...`;
    else if (msg.tool_calls) msg.content = null;
    else this.history.remove(msg);
    this.log.debug({ heardMs: e.heardMs, totalMs: e.totalMs, heard }, 'llm reply interrupted');
  }

  private startRun(): void {
    const r: Run = { gen: ++this.gen, ctl: new AbortController(), cancelled: false, replyOpen: false, spoke: false, msg: undefined };
    this.run = r;
    void this.execute(r);
  }

  private cancel(r: Run, why: string): void {
    if (r.cancelled) return;
    r.cancelled = true;
    r.ctl.abort();
    // Close the reply now, before anything of a newer run can be queued behind it.
    this.endReply(r);
    this.log.debug({ gen: r.gen, why }, 'llm request cancelled');
  }

  private body(): Record<string, unknown> {
    const c = this.s.config;
    const body: Record<string, unknown> = {
      model: c.llmModel,
      messages: [{ role: 'system', content: c.llmSystemPrompt }, ...this.history.window()],
      tools: this.s.tools,
    };
    if (c.llmTemperature !== null) body.temperature = c.llmTemperature;
    if (c.llmMaxTokens > 0) body.max_tokens = c.llmMaxTokens;
    return body;
  }

  private async execute(r: Run): Promise<void> {
    const { config: c, stats } = this.s;
    const splitter = new SentenceSplitter();
    const t0 = performance.now();
    let firstMs = -1;
    stats.requests++;
    try {
      const res = await streamChatCompletion({
        baseUrl: c.llmBaseUrl,
        apiKey: c.llmApiKey,
        body: this.body(),
        signal: r.ctl.signal,
        firstTokenTimeoutMs: c.llmTimeoutMs,
        totalTimeoutMs: c.llmTotalTimeoutMs,
        maxContentChars: c.llmMaxTokens > 0 ? c.llmMaxTokens * CHARS_PER_TOKEN : NO_TOKEN_CAP_CHARS,
        onContent: (text) => {
          if (firstMs < 0) {
            stats.lastFirstTokenMs = firstMs = Math.round(performance.now() - t0);
            stats.onFirstToken?.(firstMs);
          }
          if (r.cancelled) return;
          for (const sentence of splitter.push(text)) this.say(r, sentence, false);
        },
      });
      if (r.cancelled) return;
      stats.completed++;
      stats.malformedEvents += res.malformedEvents;
      const calls = res.toolCalls;
      const rest = splitter.flush();
      if (!r.spoke && !rest.length && calls.some((x) => x.function.name === 'hang_up')) rest.push(FALLBACK_GOODBYE);
      rest.forEach((sentence, i) => this.say(r, sentence, i === rest.length - 1));
      this.endReply(r);
      this.log.info(
        {
          gen: r.gen,
          firstTokenMs: firstMs,
          totalMs: Math.round(performance.now() - t0),
          chars: res.content.length,
          toolCalls: calls.map((x) => x.function.name),
          finishReason: res.finishReason,
          malformed: res.malformedEvents,
        },
        'llm reply',
      );
      if (calls.length) this.runTools(r, calls);
    } catch (err) {
      const e = err instanceof LlmError ? err : new LlmError('LLM_BAD_RESPONSE', (err as Error)?.message ?? String(err));
      if (e.code === 'LLM_ABORTED' || r.cancelled) {
        stats.aborted++;
        return;
      }
      stats.errors[e.code]++;
      this.log.warn({ gen: r.gen, code: e.code, status: e.status, err: { message: e.message } }, 'llm request failed');
      if (!this.closed && !this.ended) this.say(r, APOLOGY, true, false);
    } finally {
      if (this.run === r) this.run = undefined;
    }
  }

  /** Send one sentence; the first of a reply opens it (and its history message, when `record`). */
  private say(r: Run, text: string, end: boolean, record = true): void {
    if (!r.replyOpen) {
      r.replyOpen = true;
      if (record && !r.msg) {
        r.msg = { role: 'assistant', content: '' };
        this.history.push(r.msg);
      }
      this.remember(r.gen, record ? r.msg : undefined);
    }
    if (record && r.msg) r.msg.content = r.msg.content ? `${r.msg.content} ${text}` : text;
    r.spoke = true;
    this.output.push({ type: 'say', text, end });
    if (end) r.replyOpen = false;
  }

  private endReply(r: Run): void {
    if (!r.replyOpen) return;
    r.replyOpen = false;
    this.output.push({ type: 'say', text: '', end: true });
  }

  private remember(gen: number, msg: AssistantMessage | undefined): void {
    this.spoken.push({ gen, msg });
    if (this.spoken.length > MAX_SPOKEN) this.spoken.shift();
  }

  private runTools(r: Run, calls: ToolCall[]): void {
    const { stats, policy } = this.s;
    let msg = r.msg;
    if (!msg) {
      msg = { role: 'assistant', content: null };
      this.history.push(msg);
    }
    msg.tool_calls = calls;
    let again = false;
    for (const call of calls) {
      // Every tool call needs a result in the history, even those after the call ended.
      if (this.ended || this.closed) {
        this.history.push({ role: 'tool', tool_call_id: call.id, content: 'Not done: the call has ended.' });
        continue;
      }
      const out = runTool(call, policy);
      const label = out.output ? call.function.name : 'invalid';
      stats.toolCalls[label] = (stats.toolCalls[label] ?? 0) + 1;
      this.history.push({ role: 'tool', tool_call_id: call.id, content: out.result });
      this.log.info({ tool: call.function.name.slice(0, 40), result: out.result, action: out.output?.type }, 'llm tool call');
      if (out.output) this.output.push(out.output);
      if (out.endsCall) this.ended = true;
      else again = true;
    }
    if (!again || this.ended || this.closed) return;
    if (this.toolRounds++ < MAX_TOOL_ROUNDS) this.startRun();
    else this.log.warn({ rounds: this.toolRounds }, 'llm tool rounds exhausted for this turn');
  }
}

export function createLlmBot(ctx: AdapterContext): LlmBotAdapter {
  const c = ctx.sections.bot;
  const policy: ToolPolicy = { transferNumbers: c.llmTransferNumbers };
  const tools = toolSchemas(policy);
  const stats: LlmBotStats = {
    requests: 0,
    completed: 0,
    aborted: 0,
    malformedEvents: 0,
    toolCalls: {},
    lastFirstTokenMs: -1,
    errors: { LLM_HTTP: 0, LLM_TIMEOUT: 0, LLM_NETWORK: 0, LLM_BAD_RESPONSE: 0, LLM_TOO_LARGE: 0 },
  };
  if (!c.llmApiKey && /^https:\/\/api\.openai\.com\b/.test(c.llmBaseUrl)) ctx.logger.warn('LLM_API_KEY is empty: api.openai.com will refuse every request');
  ctx.logger.info({ baseUrl: c.llmBaseUrl, model: c.llmModel, tools: tools.map((t) => (t as { function: { name: string } }).function.name) }, 'llm bot ready');
  const shared: Shared = { config: c, logger: ctx.logger, stats, policy, tools };
  return {
    name: 'llm',
    capabilities: { wantsUtteranceAudio: false },
    stats,
    start: (o) => new LlmBotSession(o, shared),
  };
}
