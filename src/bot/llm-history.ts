/**
 * One call's chat history for the LLM bot, bounded: each request sends the newest `maxMessages` (plus the system
 * prompt), starting at a user message so a tool result is never sent without the assistant message that asked for it;
 * older messages are forgotten. Also the rule for what an interrupted reply leaves in the history.
 */
import type { ChatMessage } from './llm-client.js';

export type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

export class ChatHistory {
  private readonly messages: ChatMessage[] = [];

  constructor(private readonly maxMessages: number) {}

  get length(): number {
    return this.messages.length;
  }

  push(m: ChatMessage): void {
    this.messages.push(m);
    // Memory bound between requests (a call of many DTMF presses and no requests cannot grow without end).
    if (this.messages.length > this.maxMessages * 2) this.trim();
  }

  remove(m: ChatMessage): void {
    const i = this.messages.indexOf(m);
    if (i >= 0) this.messages.splice(i, 1);
  }

  /** The messages to send now (a copy), oldest first. Forgets what falls out of the window. */
  window(): ChatMessage[] {
    this.trim();
    return this.messages.slice();
  }

  private trim(): void {
    const msgs = this.messages;
    if (msgs.length <= this.maxMessages) return;
    const start = msgs.length - this.maxMessages;
    let s = start;
    while (s < msgs.length && msgs[s]!.role !== 'user') s++;
    // No user message inside the window (a long tool exchange): keep from the last one before it.
    if (s === msgs.length) {
      s = start;
      while (s > 0 && msgs[s]!.role !== 'user') s--;
    }
    if (s > 0) msgs.splice(0, s);
  }
}

/**
 * What the caller heard of a reply cut by barge-in: the share `heardMs / totalMs` of its text, cut back to a word
 * boundary ("" when nothing was heard). Speech rate is taken as even over the reply — an estimate, not a transcript.
 */
export function heardPart(text: string, heardMs: number, totalMs: number): string {
  if (!text || heardMs <= 0 || totalMs <= 0) return '';
  if (heardMs >= totalMs) return text;
  const chars = Math.floor((text.length * heardMs) / totalMs);
  const cut = text.lastIndexOf(' ', chars);
  // A word the caller heard at least half of counts as heard.
  const nextSpace = text.indexOf(' ', chars);
  const wordEnd = nextSpace < 0 ? text.length : nextSpace;
  const wordStart = cut < 0 ? 0 : cut + 1;
  const end = chars - wordStart >= (wordEnd - wordStart) / 2 ? wordEnd : cut < 0 ? 0 : cut;
  return text.slice(0, end).trim();
}
