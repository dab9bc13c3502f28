/**
 * Turns a bot's streamed `say` pieces (tokens, words) into whole sentences for the TTS: speaking each token on its own
 * would sound choppy and cost one synthesis per token. Complete sentences go out as soon as they are complete, so the
 * first one plays while the bot is still writing the rest. Bounded: text past `maxPendingChars` without a sentence
 * end is cut at a space.
 */
import type { BotOutput } from './types.js';

type Say = Extract<BotOutput, { type: 'say' }>;
/** What a reply takes from its first piece and stamps on every sentence of it. */
type ReplyChoices = Pick<Say, 'id' | 'language' | 'voice'>;
const CHOICES = ['id', 'language', 'voice'] as const;

/** The last sentence end (., !, ?, ;, : followed by whitespace) in `text`: the index just after it, or 0. */
function sentenceCut(text: string): number {
  let cut = 0;
  const re = /[.!?;:]+(?=\s)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) cut = m.index + m[0].length;
  return cut;
}

export class SayAssembler {
  private pending = '';
  private interruptible = true;
  private choices: ReplyChoices = {};
  /** A reply has been started downstream (a piece with `end: false` went out) and not yet ended. */
  replyOpen = false;

  constructor(private readonly maxPendingChars = 1000) {}

  /** True while text is held back, waiting for the end of its sentence. */
  get holding(): boolean {
    return this.pending.length > 0;
  }

  /**
   * One `say` from the bot (`end` defaults to true: a whole reply). Returns what to hand the session now: nothing, a
   * sentence of an open reply (`end: false`), or the rest of the reply (`end: true`).
   */
  push(text: string, end: boolean, interruptible: boolean | undefined, choices?: ReplyChoices): Say | undefined {
    if (!this.started) {
      this.interruptible = interruptible !== false;
      this.choices = {};
      for (const k of CHOICES) if (choices?.[k] !== undefined) this.choices[k] = choices[k];
    }
    this.pending += text;
    if (end) return this.flush();
    let cut = sentenceCut(this.pending);
    if (!cut && this.pending.length > this.maxPendingChars) cut = this.pending.lastIndexOf(' ', this.maxPendingChars) + 1 || this.maxPendingChars;
    if (!cut) return undefined;
    const piece = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    this.replyOpen = true;
    return { type: 'say', text: piece.trim(), end: false, interruptible: this.interruptible, ...this.choices };
  }

  /** A reply is under way (pieces given, not yet ended): a new piece belongs to it. */
  get started(): boolean {
    return this.replyOpen || this.pending.length > 0;
  }

  /**
   * Why a piece cannot join the reply under way: it names a different id, language or voice than the reply's first
   * piece did (a piece may repeat them or leave them out). Undefined when it can.
   */
  conflict(choices: ReplyChoices): string | undefined {
    if (!this.started) return undefined;
    for (const k of CHOICES) {
      const v = choices[k];
      if (v !== undefined && v !== this.choices[k])
        return `${k} "${v}" differs from the ${k} of the reply being streamed (${this.choices[k] === undefined ? 'none' : `"${this.choices[k]}"`}): end that reply first`;
    }
    return undefined;
  }

  /** End the reply now (the bot sent end: true, or a non-say message): what is held, with `end: true`, if anything. */
  flush(): Say | undefined {
    if (!this.pending && !this.replyOpen) return undefined;
    const out: Say = { type: 'say', text: this.pending.trim(), end: true, interruptible: this.interruptible, ...this.choices };
    this.pending = '';
    this.replyOpen = false;
    return out;
  }

  /** Forget the reply (after a clear). */
  reset(): void {
    this.pending = '';
    this.replyOpen = false;
  }
}
