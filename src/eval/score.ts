/**
 * Scores of one eval call, from its {@link CallTimeline} alone (what the caller sent and heard):
 *
 * - **replies**: runs of heard bot audio. A run that stops without its notify having played and resumes within
 *   {@link RESUME_MS} with no `clear` in between is a *pause* of the same reply (counted as information). A reply ends
 *   `finished` (its notify marker played: the gateway meant it to end there), `cleared` (a clear arrived, with no resume
 *   before it), `abandoned` (stopped, not finished, not resumed) or `callEnded`.
 * - **turn latency**: a `turn`'s end of speech → arrival of the first frame of the next reply to start after it.
 * - **barge-in**: a caller event whose onset falls inside a reply. The reply is *stopped* by it when the reply ends
 *   cleared or abandoned within {@link STOP_WINDOW_MS} of the event's end (a `turn`: of its onset); stop latency is onset
 *   → the first slot after onset where the bot's audio stopped playing.
 *   `turn` not stopped = missed barge-in; `backchannel`/`noise` stopped = false barge-in. On a line with echo, each
 *   reply with no caller event in it is a chance to be cut off by its own echo: stopped = false barge-in.
 * - **premature cut-off**: a reply that starts between a `turn`'s onset and its end (inside its pause, or before it
 *   finished). Counted over the turns spoken while the bot was silent.
 * - **echo answered**: on a line with echo, a reply after the first (the greeting) with no caller speech between the
 *   previous reply's start and its own: the bot answered something nobody said (its own echo, transcribed). Replies
 *   played back to back (less than {@link GAP_MS} apart) are told apart by the notify marker of the first (the
 *   gateway sends one after each reply's last frame), so an answer queued behind the greeting is a reply of its own.
 */
import type { CallTimeline, CallerEvent } from './timeline.js';

const SLOT_MS = 20;
/** Runs closer than this are one stretch of audio (a frame late at the gateway, a sentence boundary). */
const GAP_MS = 200;
/** A stop that resumes within this (and no clear) is a pause, not an end. */
export const RESUME_MS = 1000;
/** How long after a caller event a reply's end still counts as caused by it. */
export const STOP_WINDOW_MS = 1500;
/** A notify echoed within this of a run's end marks the reply finished there. */
const NOTIFY_SLACK_MS = 300;
/** The first reply after a turn must start within this to count as its answer. */
const ANSWER_WINDOW_MS = 10_000;

export type ReplyEnd = 'finished' | 'cleared' | 'abandoned' | 'callEnded';

export interface Reply {
  startMs: number;
  /** Arrival of its first frame (the turn latency end point). */
  startArrivalMs: number;
  /** End of its last heard slot. */
  endMs: number;
  end: ReplyEnd;
  /** Stops that resumed (the gateway paused its output, then went on). */
  pauses: number;
  /** Ends of every run of audio in the reply (pause starts and the final end), ms. */
  stopsMs: number[];
  /** Heard audio, ms. */
  heardMs: number;
}

export interface EventScore {
  index: number;
  kind: CallerEvent['kind'];
  /** Onset fell inside a reply. */
  duringReply: boolean;
  /** The reply it fell in ended cleared/abandoned because of it. */
  stoppedReply: boolean;
  stopLatencyMs: number | null;
  /** `turn` only: end of speech → first frame of the answer. */
  turnLatencyMs: number | null;
  premature: boolean;
}

export interface CallScore {
  replies: Reply[];
  events: EventScore[];
  turnLatenciesMs: number[];
  stopLatenciesMs: number[];
  falseBargeIns: { count: number; chances: number };
  missedBargeIns: { count: number; chances: number };
  premature: { count: number; chances: number };
  /** `turn`s spoken while the bot was silent that got no answer within 10 s. */
  unanswered: number;
  /** On a line with echo: replies after the greeting that answered no caller speech, over those replies. */
  echoAnswered: { count: number; chances: number };
  pauses: number;
  clears: number;
}

/**
 * Slots where one reply ended and the next had begun within the same stretch of audio: a notify marker (played right
 * after a reply's last frame, in the slot it ends) with audio on both sides. A clear cancels the markers it drops, so
 * a pause never leaves one behind.
 */
function replyBoundaries(tl: CallTimeline): Set<number> {
  const out = new Set<number>();
  for (const n of tl.notifies) {
    const k = Math.round(n.atMs / SLOT_MS);
    if (k > 0 && k < tl.playing.length && tl.playing.subarray(0, k).includes(1) && tl.playing.subarray(k).includes(1)) out.add(k);
  }
  return out;
}

/** Cut the heard slots into replies. */
export function findReplies(tl: CallTimeline): Reply[] {
  const runs: Array<{ s: number; e: number }> = [];
  const p = tl.playing;
  const bounds = replyBoundaries(tl);
  let boundary = false;
  for (let i = 0; i < p.length; i++) {
    if (bounds.has(i)) boundary = true;
    if (!p[i]) continue;
    const last = runs[runs.length - 1];
    if (last && !boundary && (i - last.e) * SLOT_MS < GAP_MS && !tl.clearsMs.some((c) => c >= last.e * SLOT_MS - SLOT_MS && c < i * SLOT_MS)) last.e = i + 1;
    else runs.push({ s: i, e: i + 1 });
    boundary = false;
  }
  const replies: Reply[] = [];
  let cur: Reply | undefined;
  for (let k = 0; k < runs.length; k++) {
    const r = runs[k]!;
    const startMs = r.s * SLOT_MS;
    const endMs = r.e * SLOT_MS;
    const arrivalMs = tl.arrivalMs[r.s];
    if (!cur)
      cur = {
        startMs,
        startArrivalMs: arrivalMs === undefined || Number.isNaN(arrivalMs) ? startMs : arrivalMs,
        endMs,
        end: 'abandoned',
        pauses: 0,
        stopsMs: [],
        heardMs: 0,
      };
    cur.endMs = endMs;
    cur.heardMs += endMs - startMs;
    cur.stopsMs.push(endMs);
    const nextStart = k + 1 < runs.length ? runs[k + 1]!.s * SLOT_MS : Infinity;
    const finished = tl.notifies.some((n) => n.atMs >= endMs - SLOT_MS && n.atMs <= endMs + NOTIFY_SLACK_MS);
    // A clear after this run (from just before its end) and before any resume ends the reply.
    const cleared = tl.clearsMs.some((c) => c >= endMs - 3 * SLOT_MS && c < Math.min(nextStart, endMs + STOP_WINDOW_MS));
    if (finished) cur.end = 'finished';
    else if (cleared) cur.end = 'cleared';
    else if (nextStart - endMs <= RESUME_MS) {
      cur.pauses++;
      continue;
    } else cur.end = endMs >= tl.durationMs - SLOT_MS ? 'callEnded' : 'abandoned';
    replies.push(cur);
    cur = undefined;
  }
  return replies;
}

/** Score one call. */
export function scoreCall(tl: CallTimeline): CallScore {
  const replies = findReplies(tl);
  const out: CallScore = {
    replies,
    events: [],
    turnLatenciesMs: [],
    stopLatenciesMs: [],
    falseBargeIns: { count: 0, chances: 0 },
    missedBargeIns: { count: 0, chances: 0 },
    premature: { count: 0, chances: 0 },
    unanswered: 0,
    echoAnswered: { count: 0, chances: 0 },
    pauses: replies.reduce((n, r) => n + r.pauses, 0),
    clears: tl.clearsMs.length,
  };
  const stopped = (r: Reply) => r.end === 'cleared' || r.end === 'abandoned';
  for (const ev of tl.events) {
    const reply = replies.find((r) => r.startMs <= ev.onsetMs && ev.onsetMs < r.endMs);
    const es: EventScore = {
      index: ev.index,
      kind: ev.kind,
      duringReply: !!reply,
      stoppedReply: false,
      stopLatencyMs: null,
      turnLatencyMs: null,
      premature: false,
    };
    if (reply) {
      const from = ev.kind === 'turn' ? ev.onsetMs : ev.endMs;
      es.stoppedReply = stopped(reply) && reply.endMs <= from + STOP_WINDOW_MS;
      if (es.stoppedReply) {
        es.stopLatencyMs = Math.max(0, (reply.stopsMs.find((s) => s > ev.onsetMs) ?? reply.endMs) - ev.onsetMs);
      }
      if (ev.kind === 'turn') {
        out.missedBargeIns.chances++;
        if (!es.stoppedReply) out.missedBargeIns.count++;
        else out.stopLatenciesMs.push(es.stopLatencyMs as number);
      } else {
        out.falseBargeIns.chances++;
        if (es.stoppedReply) out.falseBargeIns.count++;
      }
    }
    if (ev.kind === 'turn') {
      if (!reply) {
        out.premature.chances++;
        es.premature = replies.some((r) => r.startMs > ev.onsetMs && r.startMs < ev.endMs);
        if (es.premature) out.premature.count++;
      }
      const nextOnset = tl.events.find((e) => e.onsetMs > ev.onsetMs)?.onsetMs ?? Infinity;
      const answer = replies.find((r) => r.startMs >= ev.endMs && r.startMs < Math.min(nextOnset, ev.endMs + ANSWER_WINDOW_MS));
      if (answer) {
        es.turnLatencyMs = Math.max(0, Math.round(answer.startArrivalMs - ev.endMs));
        out.turnLatenciesMs.push(es.turnLatencyMs);
      } else if (!reply && !es.premature) out.unanswered++;
    }
    out.events.push(es);
  }
  if (tl.echo) {
    for (const r of replies) {
      if (tl.events.some((e) => e.onsetMs >= r.startMs - STOP_WINDOW_MS && e.onsetMs < r.endMs)) continue;
      out.falseBargeIns.chances++;
      if (stopped(r)) out.falseBargeIns.count++;
    }
    for (let i = 1; i < replies.length; i++) {
      const from = replies[i - 1]!.startMs;
      const r = replies[i]!;
      out.echoAnswered.chances++;
      if (!tl.events.some((e) => e.endMs >= from && e.onsetMs < r.startMs)) out.echoAnswered.count++;
    }
  }
  return out;
}
