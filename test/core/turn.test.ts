/**
 * The pure turn state machine as a table: each row is a sequence of events (times on an injected clock, as numbers)
 * and the actions it must produce, in order. No I/O, no timers, no sockets.
 */
import t from 'tap';
import { Turn, type CallState, type GoodbyeReason, type TurnActions, type TurnConfig } from '../../src/call/turn.js';

/** An event, as a row writes it. `playing`/`interruptible` describe the speaker at that moment. */
type Ev =
  | ['ready']
  | ['voiced', number]
  | ['speech-start', number, boolean?, boolean?]
  | ['speech', number, boolean?, boolean?]
  | ['speech-end']
  | ['transcript', number, string, boolean?]
  | ['bot-output']
  | ['tick', number]
  | ['bot-failed', string]
  | ['reply-opened', boolean?, number?]
  | ['reply-started', number, number, boolean?, number?]
  | ['reply-done', boolean]
  | ['cleared']
  | ['bot-hangup', boolean, boolean]
  | ['drain']
  | ['goodbye-written', boolean]
  | ['closed'];

const BASE: TurnConfig = { bargeIn: true, bargeInMinSpeechMs: 200, botReplyTimeoutMs: 1000, botMaxFailures: 3, hasTts: true };

function run(events: Ev[], cfg: Partial<TurnConfig> = {}): { actions: string[]; turn: Turn } {
  const actions: string[] = [];
  const act: TurnActions = {
    onState: (s: CallState) => actions.push(`state ${s}`),
    onBargeIn: () => actions.push('barge-in'),
    onReplyStarted: (id, ms) => actions.push(ms === undefined ? `reply-started ${id}` : `reply-started ${id} latency ${ms}`),
    onApologise: (why, n) => actions.push(`apologise ${n}: ${why}`),
    onGoodbye: (why: GoodbyeReason) => actions.push(`goodbye ${why}`),
    onHangUp: (code, reason) => actions.push(`hang-up ${code} ${reason}`),
  };
  const turn = new Turn({ ...BASE, ...cfg }, act);
  for (const e of events) {
    switch (e[0]) {
      case 'ready': turn.botReady(); break;
      case 'voiced': turn.voiced(e[1]); break;
      case 'speech-start': turn.speechStart(e[1], e[2] ?? false, e[3] ?? true); break;
      case 'speech': turn.speech(e[1], e[2] ?? false, e[3] ?? true); break;
      case 'speech-end': turn.speechEnd(); break;
      case 'transcript': turn.transcript(e[3] ?? true, e[2].trim() !== '', e[1]); break;
      case 'bot-output': turn.botOutput(); break;
      case 'tick': turn.tick(e[1]); break;
      case 'bot-failed': turn.botFailed(e[1]); break;
      case 'reply-opened': turn.replyOpened(e[1] ?? false, e[2] ?? 0); break;
      case 'reply-started': turn.replyStarted(e[1], e[2], e[3] ?? false, e[4] ?? 0); break;
      case 'reply-done': turn.replyDone(e[1]); break;
      case 'cleared': turn.cleared(); break;
      case 'bot-hangup': turn.botHangup(e[1], e[2]); break;
      case 'drain': turn.drain(); break;
      case 'goodbye-written': turn.goodbyeWritten(e[1]); break;
      case 'closed': turn.closed(); break;
    }
  }
  return { actions, turn };
}

const rows: Array<{ name: string; cfg?: Partial<TurnConfig>; events: Ev[]; actions: string[] }> = [
  {
    name: 'greeting: ready, reply opened, started, played',
    events: [['ready'], ['reply-opened'], ['reply-started', 1, 500], ['reply-done', true]],
    actions: ['state listening', 'state thinking', 'reply-started 1', 'state speaking', 'state listening'],
  },
  {
    name: 'a turn: speech, end, reply: latency from the last voiced frame to the first frame sent',
    events: [['ready'], ['speech-start', 100], ['voiced', 1000], ['voiced', 1200], ['speech-end'], ['reply-opened'], ['reply-started', 1, 1900], ['reply-done', true]],
    actions: ['state listening', 'state thinking', 'reply-started 1 latency 700', 'state speaking', 'state listening'],
  },
  {
    name: 'the latency is measured once per turn (a second reply does not close it again)',
    events: [['ready'], ['speech-start', 100], ['voiced', 1000], ['speech-end'], ['reply-started', 1, 1500], ['reply-done', true], ['reply-started', 2, 3000]],
    actions: ['state listening', 'state thinking', 'reply-started 1 latency 500', 'state speaking', 'state listening', 'reply-started 2', 'state speaking'],
  },
  {
    name: 'barge-in: new speech past the minimum during an interruptible reply',
    events: [['ready'], ['reply-started', 1, 0], ['speech-start', 100, true, true], ['speech', 180, true, true], ['speech', 220, true, true], ['speech', 240, true, true]],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'barge-in', 'state listening'],
  },
  {
    name: 'no barge-in on a non-interruptible reply (the apology)',
    events: [['ready'], ['reply-started', 1, 0], ['speech-start', 100, true, false], ['speech', 500, true, false]],
    actions: ['state listening', 'reply-started 1', 'state speaking'],
  },
  {
    name: 'no barge-in when nothing plays',
    events: [['ready'], ['speech-start', 100, false, true], ['speech', 900, false, true]],
    actions: ['state listening'],
  },
  {
    name: 'no barge-in when BARGE_IN is off',
    cfg: { bargeIn: false },
    events: [['ready'], ['reply-started', 1, 0], ['speech-start', 100, true, true], ['speech', 900, true, true]],
    actions: ['state listening', 'reply-started 1', 'state speaking'],
  },
  {
    name: "the tail of the utterance being answered cannot cut its own answer (only speech after the reply's start counts)",
    events: [['ready'], ['speech-start', 100], ['reply-started', 1, 0, true, 600], ['speech', 700, true, true], ['speech', 820, true, true]],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'barge-in', 'state listening'],
  },
  {
    name: 'one barge-in per utterance',
    events: [['ready'], ['reply-started', 1, 0], ['speech-start', 300, true, true], ['reply-started', 2, 10], ['speech', 900, true, true]],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'barge-in', 'state listening', 'reply-started 2', 'state speaking'],
  },
  {
    name: 'a final transcript unanswered past BOT_REPLY_TIMEOUT_MS: one apology',
    events: [['ready'], ['transcript', 1000, 'hello'], ['tick', 1500], ['tick', 1999], ['tick', 2000], ['tick', 2500], ['tick', 9000]],
    actions: ['state listening', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'bot output stops the reply clock',
    events: [['ready'], ['transcript', 1000, 'hello'], ['bot-output'], ['tick', 5000]],
    actions: ['state listening'],
  },
  {
    name: 'interim or empty transcripts do not start the clock; nor does any without TTS',
    events: [['ready'], ['transcript', 1000, 'hel', false], ['transcript', 1000, '  '], ['tick', 5000]],
    actions: ['state listening'],
  },
  {
    name: 'without TTS the bot may answer with actions only: no reply clock',
    cfg: { hasTts: false },
    events: [['ready'], ['transcript', 1000, 'hello'], ['tick', 5000]],
    actions: ['state listening'],
  },
  {
    name: 'BOT_REPLY_TIMEOUT_MS=0: never',
    cfg: { botReplyTimeoutMs: 0 },
    events: [['ready'], ['transcript', 1000, 'hello'], ['tick', 1e9]],
    actions: ['state listening'],
  },
  {
    name: 'BOT_MAX_FAILURES: each failure an apology, the last a goodbye; later failures are ignored',
    events: [['ready'], ['bot-failed', 'the bot failed on input dtmf'], ['transcript', 1000, 'hi'], ['tick', 2000], ['bot-failed', 'the bot failed'], ['bot-failed', 'again']],
    actions: ['state listening', 'apologise 1: the bot failed on input dtmf', 'apologise 2: the bot did not answer in time', 'goodbye bot-failures'],
  },
  {
    name: 'after the bot-failure goodbye is written and played: hang up with 1011',
    cfg: { botMaxFailures: 1 },
    events: [['ready'], ['bot-failed', 'x'], ['reply-opened'], ['goodbye-written', false], ['reply-started', 1, 0], ['reply-done', true]],
    actions: ['state listening', 'goodbye bot-failures', 'state thinking', 'reply-started 1', 'state speaking', 'state listening', 'hang-up 1011 bot failed 1 times'],
  },
  {
    name: 'a goodbye that produced no audio hangs up at once',
    cfg: { botMaxFailures: 1 },
    events: [['ready'], ['bot-failed', 'x'], ['goodbye-written', true]],
    actions: ['state listening', 'goodbye bot-failures', 'hang-up 1011 bot failed 1 times'],
  },
  {
    name: 'drain: goodbye, then 1001 once played; no barge-in and no apology meanwhile',
    events: [['ready'], ['drain'], ['transcript', 0, 'hi'], ['tick', 99999], ['bot-failed', 'x'], ['speech-start', 900, true, true], ['goodbye-written', false], ['reply-done', true]],
    actions: ['state listening', 'goodbye drain', 'hang-up 1001 gateway shutting down'],
  },
  {
    name: 'a second drain (or a drain after a bot-failure goodbye) does nothing',
    cfg: { botMaxFailures: 1 },
    events: [['ready'], ['bot-failed', 'x'], ['drain']],
    actions: ['state listening', 'goodbye bot-failures'],
  },
  {
    name: 'bot hangup while a reply plays: after it has played, with 1000',
    events: [['ready'], ['reply-started', 1, 0], ['bot-hangup', false, false], ['reply-done', false], ['reply-done', true]],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'state listening', 'hang-up 1000 bot hung up'],
  },
  {
    name: 'bot hangup immediate, or with nothing playing: now',
    events: [['ready'], ['bot-hangup', true, false], ['bot-hangup', false, true]],
    actions: ['state listening', 'hang-up 1000 bot hung up', 'hang-up 1000 bot hung up'],
  },
  {
    name: 'the bot clears playback: listening',
    events: [['ready'], ['reply-started', 1, 0], ['cleared']],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'state listening'],
  },
  {
    name: 'speech end while listening: thinking; a reply opened while speaking keeps speaking',
    events: [['ready'], ['speech-start', 100], ['speech-end'], ['reply-started', 1, 0], ['reply-opened']],
    actions: ['state listening', 'state thinking', 'reply-started 1', 'state speaking'],
  },
  {
    name: 'after close: no state change, no apology, no hang-up',
    events: [['ready'], ['transcript', 0, 'hi'], ['closed'], ['tick', 5000], ['bot-failed', 'x'], ['reply-done', true], ['goodbye-written', true]],
    actions: ['state listening'],
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    t.same(run(row.events, row.cfg).actions, row.actions);
  });
}

t.test('counters: barge-ins and failures', async (t) => {
  const { turn } = run([['ready'], ['reply-started', 1, 0], ['speech-start', 300, true, true], ['bot-failed', 'x']]);
  t.equal(turn.bargeIns, 1);
  t.equal(turn.botFailures, 1);
  t.equal(turn.state, 'listening');
});
