/**
 * Live calls of this process: lookup by call uuid (for event-webhook correlation), capacity, and graceful drain.
 */
import type { CallSession, CallSummary } from './session.js';

export class CallTracker {
  private readonly byId = new Map<string, CallSession>();
  private readonly byConversation = new Map<string, CallSession>();
  private drainWaiters: Array<() => void> = [];
  /** Summaries of the most recent ended calls (bounded), newest last. */
  readonly recent: CallSummary[] = [];
  private readonly keepRecent: number;

  constructor(keepRecent = 50) {
    this.keepRecent = keepRecent;
  }

  get size(): number {
    return this.byId.size;
  }

  sessions(): IterableIterator<CallSession> {
    return this.byId.values();
  }

  /** Called for each session added (before it starts): hands it what arrived for its call before its leg. */
  onAdd: ((s: CallSession) => void) | undefined;

  add(s: CallSession): void {
    // A duplicate uuid (Vonage retried, or a misbehaving client) must not orphan the first session.
    let key = s.info.callId;
    if (this.byId.has(key)) key = `${key}#${Math.random().toString(36).slice(2, 8)}`;
    this.byId.set(key, s);
    if (s.info.conversationUuid) this.byConversation.set(s.info.conversationUuid, s);
    this.onAdd?.(s);
    const prev = s.onClosed;
    s.onClosed = (sess, summary) => {
      this.byId.delete(key);
      if (s.info.conversationUuid && this.byConversation.get(s.info.conversationUuid) === s) this.byConversation.delete(s.info.conversationUuid);
      this.recent.push(summary);
      if (this.recent.length > this.keepRecent) this.recent.shift();
      prev?.(sess, summary);
      if (this.byId.size === 0) {
        const w = this.drainWaiters;
        this.drainWaiters = [];
        for (const f of w) f();
      }
    };
  }

  /** Find the live call an event webhook is about: by call uuid, the uuid in its headers, or its conversation. */
  find(ids: { uuid?: string; headerUuid?: string; conversationUuid?: string }): CallSession | undefined {
    return (
      (ids.headerUuid && this.byId.get(ids.headerUuid)) ||
      (ids.uuid && this.byId.get(ids.uuid)) ||
      (ids.conversationUuid && this.byConversation.get(ids.conversationUuid)) ||
      undefined
    );
  }

  /** Resolves when no call is live. */
  whenEmpty(): Promise<void> {
    if (this.byId.size === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }
}
