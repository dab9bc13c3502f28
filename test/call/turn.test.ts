/**
 * The pure turn state machine as a table: each row is a sequence of events (times on an injected clock, as numbers)
 * and the actions it must produce, in order. No I/O, no timers, no sockets.
 *
 * The first table runs with BARGE_IN_CONFIRM_MS=0 and BACKCHANNEL_MAX_MS=0: the behaviour before "pause, then decide"
 * (immediate barge-in), unchanged. The second table (PAUSE) covers pause, confirm, resume and backchannels.
 */
import t from 'tap';
import { Turn, type CallState, type GoodbyeReason, type TurnActions, type TurnConfig } from '../../src/call/turn.js';
import { BackchannelWords } from '../../src/call/backchannel.js';

/** An event, as a row writes it. `playing`/`interruptible` describe the speaker at that moment. */
type Ev =
  | ['ready']
  | ['voiced', number]
  | ['speech-start', number, boolean?, boolean?]
  | ['speech', number, boolean?, boolean?]
  /** speechMs, at, playing, interruptible */
  | ['speech-end', number?, number?, boolean?, boolean?]
  /** at, text, final (default true), playing, interruptible */
  | ['transcript', number, string, boolean?, boolean?, boolean?]
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
  /** The echo guard has found that all the ASR heard since its last final was the bot's echo. */
  | ['echo-only']
  | ['closed'];

const WORDS = new BackchannelWords('uh-huh,uh huh,mm-hmm,mhm,hmm,okay,ok,yeah,yes,right,sure,i see,got it,alright'.split(','));
/** With the defaults' rules: a final of ≤ 2 words with none of BARGE_IN_WORDS is `short` (a misheard acknowledgement). */
const RULES = new BackchannelWords('uh-huh,okay,yeah'.split(','), { interrupt: ['stop', 'wait', 'no', 'hold on'], maxWords: 2 });
const BASE: TurnConfig = {
  bargeIn: true,
  bargeInMinSpeechMs: 200,
  botReplyTimeoutMs: 1000,
  botMaxFailures: 3,
  hasTts: true,
  hasAsr: false,
  bargeInConfirmMs: 0,
  resumeSilenceMs: 300,
  backchannelMaxMs: 0,
  backchannelWords: WORDS,
};
/** The defaults: pause at onset, confirm at 900 ms voiced, backchannels up to 700 ms. */
const PAUSE: Partial<TurnConfig> = { bargeInConfirmMs: 900, backchannelMaxMs: 700 };

function run(events: Ev[], cfg: Partial<TurnConfig> = {}): { actions: string[]; turn: Turn } {
  const actions: string[] = [];
  const act: TurnActions = {
    onState: (s: CallState) => actions.push(`state ${s}`),
    onBargeIn: () => actions.push('barge-in'),
    onPause: () => actions.push('pause'),
    onResume: (why) => actions.push(`resume ${why}`),
    onHeldTranscript: (text) => actions.push(`transcript ${text}`),
    onEchoTranscript: (text) => actions.push(`echo ${text}`),
    onBackchannel: (ms, text) => actions.push(text === undefined ? `backchannel ${ms}` : `backchannel ${ms} ${text}`),
    onReplyStarted: (id, ms) => actions.push(ms === undefined ? `reply-started ${id}` : `reply-started ${id} latency ${ms}`),
    onApologise: (why, n) => actions.push(`apologise ${n}: ${why}`),
    onGoodbye: (why: GoodbyeReason) => actions.push(`goodbye ${why}`),
    onHangUp: (code, reason) => actions.push(`hang-up ${code} ${reason}`),
  };
  // The echo guard's answer as the guard gives it: echo until the next final (which closes what the ASR heard).
  const echo = {
    only: false,
    heardOnlyEcho(final: boolean): boolean {
      const was = this.only;
      if (final) this.only = false;
      return was;
    },
  };
  const turn = new Turn({ ...BASE, echo, ...cfg }, act);
  for (const e of events) {
    switch (e[0]) {
      case 'echo-only':
        echo.only = true;
        break;
      case 'ready':
        turn.botReady();
        break;
      case 'voiced':
        turn.voiced(e[1]);
        break;
      case 'speech-start':
        turn.speechStart(e[1], e[2] ?? false, e[3] ?? true);
        break;
      case 'speech':
        turn.speech(e[1], e[2] ?? false, e[3] ?? true);
        break;
      case 'speech-end':
        if (turn.speechEnd(e[1], e[2], e[3] ?? false, e[4] ?? true)) actions.push('speech-end backchannel');
        break;
      case 'transcript':
        if (!turn.transcript(e[3] ?? true, e[2], e[1], e[4] ?? false, e[5] ?? true)) actions.push('held');
        break;
      case 'bot-output':
        turn.botOutput();
        break;
      case 'tick':
        turn.tick(e[1]);
        break;
      case 'bot-failed':
        turn.botFailed(e[1]);
        break;
      case 'reply-opened':
        turn.replyOpened(e[1] ?? false, e[2] ?? 0);
        break;
      case 'reply-started':
        turn.replyStarted(e[1], e[2], e[3] ?? false, e[4] ?? 0);
        break;
      case 'reply-done':
        turn.replyDone(e[1]);
        break;
      case 'cleared':
        turn.cleared();
        break;
      case 'bot-hangup':
        turn.botHangup(e[1], e[2]);
        break;
      case 'drain':
        turn.drain();
        break;
      case 'goodbye-written':
        turn.goodbyeWritten(e[1]);
        break;
      case 'closed':
        turn.closed();
        break;
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
    events: [
      ['ready'],
      ['speech-start', 100],
      ['voiced', 1000],
      ['voiced', 1200],
      ['speech-end'],
      ['reply-opened'],
      ['reply-started', 1, 1900],
      ['reply-done', true],
    ],
    actions: ['state listening', 'state thinking', 'reply-started 1 latency 700', 'state speaking', 'state listening'],
  },
  {
    name: 'the latency is measured once per turn (a second reply does not close it again)',
    events: [['ready'], ['speech-start', 100], ['voiced', 1000], ['speech-end'], ['reply-started', 1, 1500], ['reply-done', true], ['reply-started', 2, 3000]],
    actions: ['state listening', 'state thinking', 'reply-started 1 latency 500', 'state speaking', 'state listening', 'reply-started 2', 'state speaking'],
  },
  {
    name: 'barge-in: new speech past the minimum during an interruptible reply',
    events: [
      ['ready'],
      ['reply-started', 1, 0],
      ['speech-start', 100, true, true],
      ['speech', 180, true, true],
      ['speech', 220, true, true],
      ['speech', 240, true, true],
    ],
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
    events: [
      ['ready'],
      ['bot-failed', 'the bot failed on input dtmf'],
      ['transcript', 1000, 'hi'],
      ['tick', 2000],
      ['bot-failed', 'the bot failed'],
      ['bot-failed', 'again'],
    ],
    actions: ['state listening', 'apologise 1: the bot failed on input dtmf', 'apologise 2: the bot did not answer in time', 'goodbye bot-failures'],
  },
  {
    name: 'after the bot-failure goodbye is written and played: hang up with 1011',
    cfg: { botMaxFailures: 1 },
    events: [['ready'], ['bot-failed', 'x'], ['reply-opened'], ['goodbye-written', false], ['reply-started', 1, 0], ['reply-done', true]],
    actions: [
      'state listening',
      'goodbye bot-failures',
      'state thinking',
      'reply-started 1',
      'state speaking',
      'state listening',
      'hang-up 1011 bot failed 1 times',
    ],
  },
  {
    name: 'a goodbye that produced no audio hangs up at once',
    cfg: { botMaxFailures: 1 },
    events: [['ready'], ['bot-failed', 'x'], ['goodbye-written', true]],
    actions: ['state listening', 'goodbye bot-failures', 'hang-up 1011 bot failed 1 times'],
  },
  {
    name: 'drain: goodbye, then 1001 once played; no barge-in and no apology meanwhile',
    events: [
      ['ready'],
      ['drain'],
      ['transcript', 0, 'hi'],
      ['tick', 99999],
      ['bot-failed', 'x'],
      ['speech-start', 900, true, true],
      ['goodbye-written', false],
      ['reply-done', true],
    ],
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
    name: "a final of the bot's echo alone (nobody spoke): dropped and told, not a turn, no reply clock, no latency",
    events: [
      ['ready'],
      ['reply-started', 1, 0],
      ['echo-only'],
      ['transcript', 900, 'fi', false, true],
      ['transcript', 1500, 'five', true, true],
      ['tick', 9000],
      ['reply-done', true],
      ['reply-started', 2, 9500],
    ],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'held', 'echo five', 'held', 'state listening', 'reply-started 2', 'state speaking'],
  },
  {
    name: "after a dropped echo final the caller's next final is a turn again",
    events: [
      ['ready'],
      ['reply-started', 1, 0],
      ['echo-only'],
      ['transcript', 1500, 'but', true, true],
      ['reply-done', true],
      ['speech-start', 200],
      ['voiced', 3000],
      ['speech-end', 800, 3400],
      ['transcript', 3600, 'go forward ten meters'],
      ['reply-started', 2, 4000],
      ['tick', 4100],
    ],
    actions: [
      'state listening',
      'reply-started 1',
      'state speaking',
      'echo but',
      'held',
      'state listening',
      'state thinking',
      'reply-started 2 latency 1000',
      'state speaking',
    ],
  },
  {
    name: 'a final with no echo verdict goes to the bot (the caller spoke, or no echo path was ever locked)',
    events: [['ready'], ['reply-started', 1, 0], ['transcript', 1500, 'five', true, true], ['tick', 3000]],
    actions: ['state listening', 'reply-started 1', 'state speaking', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'after close: no state change, no apology, no hang-up',
    events: [['ready'], ['transcript', 0, 'hi'], ['closed'], ['tick', 5000], ['bot-failed', 'x'], ['reply-done', true], ['goodbye-written', true]],
    actions: ['state listening'],
  },
];

const L = ['state listening', 'reply-started 1', 'state speaking'];
/** The bot is speaking reply 1 (started at 0); the caller's first voiced frame arrives at 1000. */
const SPEAKING: Ev[] = [['ready'], ['reply-started', 1, 0], ['voiced', 1000]];
const pauseRows: Array<{ name: string; cfg?: Partial<TurnConfig>; events: Ev[]; actions: string[] }> = [
  {
    name: 'onset pauses; voiced speech reaching BARGE_IN_CONFIRM_MS confirms: barge-in',
    events: [
      ...SPEAKING,
      ['speech-start', 140, true, true],
      ['voiced', 1060],
      ['speech', 200, true, true],
      ['speech', 500, true, true],
      ['speech', 880, true, true],
      ['speech', 900, true, true],
      ['speech', 1200, true, true],
    ],
    actions: [...L, 'pause', 'barge-in', 'state listening'],
  },
  {
    name: 'short speech, then silence: resume; at its end a backchannel (no ASR: by duration), and it closes no turn',
    events: [
      ...SPEAKING,
      ['speech-start', 140, true, true],
      ['voiced', 1100],
      ['speech', 240, true, true],
      ['speech', 260, true, true],
      ['tick', 1200],
      ['tick', 1399],
      ['tick', 1400],
      ['speech-end', 260, 1700],
      ['tick', 1720],
      ['tick', 1740],
      ['reply-started', 2, 3000],
    ],
    actions: [...L, 'pause', 'resume silence', 'speech-end backchannel', 'backchannel 260', 'reply-started 2'],
  },
  {
    name: 'the bound (2 × BARGE_IN_CONFIRM_MS): resume, no second pause for that utterance, but it may still confirm',
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['voiced', 2100],
      ['tick', 2100],
      ['speech', 300, true, true],
      ['voiced', 2400],
      ['tick', 2400],
      ['voiced', 2700],
      ['tick', 2700],
      ['tick', 2799],
      ['tick', 2800],
      ['speech', 500, true, true],
      ['speech', 899, true, true],
      ['speech', 900, true, true],
    ],
    actions: [...L, 'pause', 'resume bound', 'barge-in', 'state listening'],
  },
  {
    name: 'speech that goes on after a resume pauses again after BARGE_IN_MIN_SPEECH_MS more, and confirms on its total',
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['voiced', 1400],
      ['speech', 300, true, true],
      ['voiced', 1500],
      ['speech', 400, true, true],
      ['speech', 900, true, true],
    ],
    actions: [...L, 'pause', 'resume silence', 'pause', 'barge-in', 'state listening'],
  },
  {
    name: 'BARGE_IN_CONFIRM_MS=0: no pause, the barge-in is immediate (as before), and an interrupting utterance is no backchannel',
    cfg: { bargeInConfirmMs: 0, backchannelMaxMs: 700 },
    events: [...SPEAKING, ['speech-start', 140, true, true], ['speech', 200, true, true], ['speech-end', 400, 1500], ['tick', 1520]],
    actions: [...L, 'barge-in', 'state listening', 'state thinking'],
  },
  {
    name: 'a non-interruptible reply is never paused (and a long utterance over it is no backchannel)',
    events: [...SPEAKING, ['speech-start', 100, true, false], ['speech', 1500, true, false], ['tick', 5000], ['speech-end', 1500, 5000], ['tick', 5020]],
    actions: [...L],
  },
  {
    name: 'a transcript with other words while paused confirms at once (partial or final)',
    cfg: { hasAsr: true },
    events: [...SPEAKING, ['speech-start', 200, true, true], ['transcript', 1100, 'wait a second', false, true, true]],
    actions: [...L, 'pause', 'barge-in', 'state listening'],
  },
  {
    name: 'with ASR: the final of a short paused utterance decides; listed words → backchannel with its text, not a transcript',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['tick', 1700],
      ['transcript', 1900, 'Okay.', true, true, true],
      ['tick', 5000],
    ],
    actions: [...L, 'pause', 'resume silence', 'backchannel 400 Okay.', 'held'],
  },
  {
    name: 'with ASR: a short utterance with a word that is not an acknowledgement is a turn (a "two" said over a menu): a late barge-in',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['transcript', 1900, 'two', true, true, true],
      ['tick', 2900],
    ],
    actions: [...L, 'pause', 'resume silence', 'barge-in', 'state listening', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'with ASR: longer than a backchannel, unconfirmed, with other words in its final: a late barge-in, and a turn for the bot',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 800, 1600],
      ['transcript', 1900, 'no stop it', true, true, true],
      ['tick', 2900],
    ],
    actions: [...L, 'pause', 'resume silence', 'barge-in', 'state listening', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'with ASR: the same when its final comes before the VAD end: held, then given to the bot at the end',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['transcript', 1500, 'no stop it', true, true, true],
      ['speech-end', 800, 1600, true, true],
      ['tick', 2600],
    ],
    actions: [
      ...L,
      'pause',
      'resume silence',
      'held',
      'barge-in',
      'state listening',
      'transcript no stop it',
      'state thinking',
      'apologise 1: the bot did not answer in time',
    ],
  },
  {
    name: 'with ASR: no final within BACKCHANNEL_TEXT_WAIT_MS (8 s): the backchannel is told without text',
    cfg: { hasAsr: true },
    events: [...SPEAKING, ['speech-start', 200, true, true], ['tick', 1300], ['speech-end', 400, 1600], ['tick', 9599], ['tick', 9600], ['tick', 9620]],
    actions: [...L, 'pause', 'resume silence', 'backchannel 400'],
  },
  {
    name: "with ASR: no final before the caller's next utterance ends: told then, without text; the next final is that utterance's",
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['reply-done', true],
      ['speech-start', 300, false, true],
      ['speech-end', 1200, 4000],
      ['transcript', 4300, 'what time is it', true],
      ['tick', 5300],
    ],
    actions: [...L, 'pause', 'resume silence', 'state listening', 'backchannel 400', 'state thinking', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'with ASR: a late final while the next utterance is under way belongs to the older one (finals come in order)',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['voiced', 2000],
      ['speech-start', 140, true, true],
      ['transcript', 2100, 'okay', true, true, true],
      ['speech-end', 160, 2300],
      ['transcript', 2600, 'mhm', true, true, true],
    ],
    actions: [...L, 'pause', 'resume silence', 'backchannel 400 okay', 'held', 'backchannel 160 mhm', 'held'],
  },
  {
    name: 'listed words while paused hold off confirmation by duration ("yeah yeah right" is long but only acknowledges)',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['transcript', 1100, 'yeah yeah', false, true, true],
      ['voiced', 1500],
      ['speech', 1000, true, true],
      ['speech-end', 1000, 1600],
      ['transcript', 1900, 'yeah yeah right', true, true, true],
    ],
    actions: [...L, 'pause', 'resume speech-end', 'backchannel 1000 yeah yeah right', 'held'],
  },
  {
    name: 'streaming ASR: a listed final before the VAD end is held, and the backchannel is decided at the end',
    cfg: { hasAsr: true },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['transcript', 1100, 'uh-huh', true, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['tick', 1620],
    ],
    actions: [...L, 'pause', 'held', 'resume silence', 'speech-end backchannel', 'backchannel 400 uh-huh'],
  },
  {
    name: 'BACKCHANNEL_MAX_WORDS: a short paused utterance whose final is a word not listed ("okay" heard as "again") is a backchannel, not a late barge-in',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['tick', 1700],
      ['transcript', 1900, 'again', true, true, true],
      ['tick', 5000],
    ],
    actions: [...L, 'pause', 'resume silence', 'backchannel 400 again', 'held'],
  },
  {
    name: 'BACKCHANNEL_MAX_WORDS: the same word as a partial while paused does not confirm the barge-in',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['transcript', 1100, 'again', false, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['transcript', 1900, 'again', true, true, true],
    ],
    actions: [...L, 'pause', 'resume silence', 'backchannel 400 again', 'held'],
  },
  {
    name: 'BACKCHANNEL_MAX_WORDS: a short final before the VAD end is decided at the end: a backchannel with its text',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['transcript', 1100, 'a house', true, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['tick', 1620],
    ],
    actions: [...L, 'pause', 'held', 'resume silence', 'speech-end backchannel', 'backchannel 400 a house'],
  },
  {
    name: 'BACKCHANNEL_MAX_WORDS: speech that starts with the reply (the caller going on after a pause) is no short acknowledgement: its final interrupts',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ['ready'],
      ['reply-started', 1, 0],
      ['voiced', 300],
      ['speech-start', 200, true, true],
      ['tick', 600],
      ['speech-end', 600, 900],
      ['transcript', 1200, 'ten meters', true, true, true],
      ['tick', 2200],
    ],
    actions: [...L, 'pause', 'resume silence', 'barge-in', 'state listening', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'BACKCHANNEL_MAX_WORDS: such speech confirms the barge-in by a short partial while paused',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [['ready'], ['reply-started', 1, 0], ['voiced', 300], ['speech-start', 200, true, true], ['transcript', 400, 'ten', false, true, true]],
    actions: [...L, 'pause', 'barge-in', 'state listening'],
  },
  {
    name: 'BARGE_IN_WORDS: a short utterance saying "stop" still interrupts (late, at its final)',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 400, 1600],
      ['transcript', 1900, 'stop', true, true, true],
      ['tick', 2900],
    ],
    actions: [...L, 'pause', 'resume silence', 'barge-in', 'state listening', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'BARGE_IN_WORDS: "hold on" as a partial while paused confirms at once',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [...SPEAKING, ['speech-start', 200, true, true], ['transcript', 1100, 'oh hold on', false, true, true]],
    actions: [...L, 'pause', 'barge-in', 'state listening'],
  },
  {
    name: 'BACKCHANNEL_MAX_WORDS: a few unlisted words from an utterance longer than BACKCHANNEL_MAX_MS are a turn (late barge-in)',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 800, 1600],
      ['transcript', 1900, 'go forward', true, true, true],
      ['tick', 2900],
    ],
    actions: [...L, 'pause', 'resume silence', 'barge-in', 'state listening', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'a final of more words than BACKCHANNEL_MAX_WORDS before the VAD end, even from an utterance too short to pause, is a turn at the end',
    cfg: { hasAsr: true, backchannelWords: RULES },
    events: [
      ...SPEAKING,
      ['speech-start', 140, true, true],
      ['transcript', 1100, 'go forward ten', true, true, true],
      ['speech-end', 160, 1400, true, true],
      ['tick', 1420],
    ],
    actions: [...L, 'held', 'transcript go forward ten'],
  },
  {
    name: 'the reply played out while paused: the pause ends (the next reply must play)',
    events: [...SPEAKING, ['speech-start', 200, true, true], ['reply-done', true]],
    actions: [...L, 'pause', 'resume played', 'state listening'],
  },
  {
    name: 'BACKCHANNEL_MAX_MS=0: the pause still resumes, but no backchannel: the final goes to the bot as a transcript',
    cfg: { hasAsr: true, backchannelMaxMs: 0 },
    events: [
      ...SPEAKING,
      ['speech-start', 200, true, true],
      ['tick', 1300],
      ['speech-end', 300, 1600],
      ['transcript', 1900, 'okay', true, true, true],
      ['tick', 5000],
    ],
    actions: [...L, 'pause', 'resume silence', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'an utterance too short to pause, while the bot speaks, is a backchannel too',
    events: [...SPEAKING, ['speech-start', 140, true, true], ['speech', 160, true, true], ['speech-end', 160, 1400], ['tick', 1420]],
    actions: [...L, 'speech-end backchannel', 'backchannel 160'],
  },
  {
    name: 'speech while nothing plays is a turn, never a backchannel',
    cfg: { hasAsr: true },
    events: [['ready'], ['voiced', 1000], ['speech-start', 200, false, true], ['speech-end', 200, 1600], ['transcript', 1900, 'okay', true], ['tick', 5000]],
    actions: ['state listening', 'state thinking', 'apologise 1: the bot did not answer in time'],
  },
  {
    name: 'a goodbye during a pause ends it: no resume, no barge-in',
    events: [...SPEAKING, ['speech-start', 200, true, true], ['drain'], ['speech', 900, true, true], ['tick', 9000]],
    actions: [...L, 'pause', 'goodbye drain'],
  },
];

for (const row of pauseRows) {
  t.test(`pause, then decide: ${row.name}`, async (t) => {
    t.same(run(row.events, { ...PAUSE, ...row.cfg }).actions, row.actions);
  });
}

t.test('counters: pauses, resumes, backchannels', async (t) => {
  const { turn } = run([...SPEAKING, ['speech-start', 200, true, true], ['tick', 1300], ['speech-end', 300, 1600], ['tick', 1620]], PAUSE);
  t.same([turn.pauses, turn.resumes, turn.backchannels, turn.bargeIns], [1, 1, 1, 0]);
  t.notOk(turn.paused);
});

t.test('backchannel words: phrases, case and punctuation blind, longest first', async (t) => {
  t.equal(WORDS.kind('Uh-huh.'), 'backchannel');
  t.equal(WORDS.kind('okay, got it'), 'backchannel');
  t.equal(WORDS.kind('I see'), 'backchannel');
  t.equal(WORDS.kind('okay got milk'), 'words');
  t.equal(WORDS.kind('stop'), 'words');
  t.equal(WORDS.kind('  '), 'empty');
  t.equal(WORDS.kind('i'), 'words', 'half a phrase is not the phrase');
  t.equal(WORDS.kind('again'), 'words', 'without rules, no short kind');
});

t.test('backchannel rules: short finals of words not listed, unless they interrupt', async (t) => {
  t.equal(RULES.kind('Again.'), 'short');
  t.equal(RULES.kind('a house'), 'short');
  t.equal(RULES.kind('okay yeah'), 'backchannel', 'listed words stay a backchannel at any length');
  t.equal(RULES.kind('okay yeah okay'), 'backchannel');
  t.equal(RULES.kind('go forward ten'), 'words', 'more than BACKCHANNEL_MAX_WORDS');
  t.equal(RULES.kind('Stop!'), 'words');
  t.equal(RULES.kind('okay stop'), 'words');
  t.equal(RULES.kind('hold on'), 'words', 'a phrase of BARGE_IN_WORDS');
  t.equal(RULES.kind('hold it'), 'short', 'half an interrupting phrase is not the phrase');
  t.equal(RULES.kind(''), 'empty');
});

for (const row of rows) {
  t.test(row.name, async (t) => {
    t.same(run(row.events, row.cfg).actions, row.actions);
  });
}

t.test('counters: echo transcripts dropped (finals only)', async (t) => {
  const { turn } = run([['ready'], ['echo-only'], ['transcript', 100, 'fi', false], ['transcript', 200, 'five'], ['echo-only'], ['transcript', 300, 'but']]);
  t.equal(turn.echoTranscripts, 2);
});

t.test('counters: barge-ins and failures', async (t) => {
  const { turn } = run([['ready'], ['reply-started', 1, 0], ['speech-start', 300, true, true], ['bot-failed', 'x']]);
  t.equal(turn.bargeIns, 1);
  t.equal(turn.botFailures, 1);
  t.equal(turn.state, 'listening');
});

t.test('BackchannelWords.shared: one classifier per configuration, shared by calls; another for other lists or rules', async (t) => {
  const list = ['uh-huh', 'okay'];
  const interrupt = ['stop'];
  const a = BackchannelWords.shared(list, { interrupt, maxWords: 2 });
  t.equal(BackchannelWords.shared(list, { interrupt, maxWords: 2 }), a, 'the same lists and rules: the same classifier');
  t.not(BackchannelWords.shared(list, { interrupt, maxWords: 3 }), a, 'another maxWords: another');
  t.not(BackchannelWords.shared(list, { interrupt: ['wait'], maxWords: 2 }), a, 'another interrupt list: another');
  t.not(BackchannelWords.shared(['yeah'], { interrupt, maxWords: 2 }), a, 'another phrase list: another');
  t.equal(a.kind('okay'), 'backchannel');
  t.equal(a.kind('stop'), 'words');
  t.equal(BackchannelWords.shared(list, { interrupt, maxWords: 3 }).kind('one two three'), 'short', 'its own rules');
  t.equal(BackchannelWords.shared(list).kind('one'), 'words', 'no rules: listed phrases only');
});
