/**
 * The call-eval scenario format's JSON Schema (draft-07). This object is the source of truth: scenarios are validated
 * against it, and `docs/eval-scenario.schema.json` is this object written out (a test checks they are equal; regenerate
 * with `node dist/src/eval/scenario-schema.js > docs/eval-scenario.schema.json`).
 *
 * Every tagged union uses a `type` field, so a bad file gets one precise error ("/turns/2/when/type must be one of …")
 * instead of a pile of oneOf failures. Objects are closed (`additionalProperties: false`): a typo is an error, never a
 * silently ignored setting.
 */
import { fileURLToPath } from 'node:url';

const ms = (description: string, max = 600_000) => ({ type: 'integer', minimum: 0, maximum: max, description });
const seed = { type: 'integer', minimum: 0, maximum: 4294967295, description: 'PRNG seed: the same seed gives the same samples' };
const closed = (description: string, properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  description,
  properties,
  required,
  additionalProperties: false,
});
const tagged = (t: string, description: string, properties: Record<string, unknown> = {}, required: string[] = []) =>
  closed(description, { type: { const: t }, ...properties }, ['type', ...required]);

const audio = {
  type: 'object',
  description: 'What the caller says',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    tagged(
      'file',
      'A recording: WAV (any rate) or headerless 16-bit LE mono .raw/.pcm; relative paths are tried against the scenario folder, then /usr/share/pocketsphinx/test/data',
      {
        path: { type: 'string', minLength: 1 },
        rawRateHz: { type: 'integer', minimum: 8000, maximum: 48000 },
        gainDb: { type: 'number', minimum: -60, maximum: 20 },
      },
      ['path'],
    ),
    tagged(
      'text',
      'Text spoken by Flite (voice slt, 16 kHz, resampled to the leg rate)',
      { text: { type: 'string', minLength: 1, maxLength: 1000 }, gainDb: { type: 'number', minimum: -60, maximum: 20 } },
      ['text'],
    ),
    tagged('cough', 'A synthesised cough: a band-limited noise burst with a fast attack and a decay', {
      durationMs: ms('Length (default 350)', 3000),
      levelDbfs: { type: 'number', minimum: -60, maximum: 0, description: 'Peak level (default -10)' },
      seed,
    }),
    tagged('silence', 'Nothing (to hold the line open)', { durationMs: ms('Length') }, ['durationMs']),
  ],
};

const when = {
  type: 'object',
  description: 'When the caller starts speaking (never before its previous turn has ended)',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    tagged('afterBotStops', 'When the bot has spoken since the previous turn and then been silent for quietMs', {
      delayMs: ms('Extra wait after that (default 0)'),
      quietMs: ms('Silence that counts as stopped (default 500)', 10_000),
      timeoutMs: ms('Speak anyway if the bot has not stopped by then (default 20000)'),
    }),
    tagged(
      'afterReplyMs',
      'ms into the bot reply playing now (if that point is still ahead), else into the next reply',
      { ms: ms('Offset into the reply', 60_000), timeoutMs: ms('Speak anyway if no reply starts by then (default 20000)') },
      ['ms'],
    ),
    tagged('atMs', 'A fixed time from the start of the call', { ms: ms('Time from the call start') }, ['ms']),
  ],
};

/** The scenario file's schema. */
export const EVAL_SCENARIO_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/vonage-voicebot-gateway/schemas/eval-scenario.json',
  title: 'Call eval scenario',
  ...closed(
    'One scripted call: what the caller says and when, over which line impairments',
    {
      $schema: { type: 'string' },
      name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$', maxLength: 80, description: 'Short id (lower case, digits, . _ -)' },
      description: { type: 'string' },
      rateHz: { enum: [8000, 16000, 24000], description: 'Leg rate the scenario is meant for; the gateway NCCO decides the real rate' },
      impairments: closed('The line between the caller and Vonage', {
        bandLimit: { type: 'boolean', description: 'Telephone band-limit (300–3400 Hz) on everything the caller sends' },
        noise: closed(
          'White noise on the line for the whole call, at an SNR against the caller speech',
          { snrDb: { type: 'number', minimum: -10, maximum: 60 }, seed },
          ['snrDb'],
        ),
        jitter: {
          type: 'object',
          description: 'Network: frames held and released together',
          required: ['type'],
          discriminator: { propertyName: 'type' },
          oneOf: [
            tagged(
              'bursts',
              'Every burstEveryMs, hold the frames for holdMs, then send them all at once',
              { burstEveryMs: { type: 'integer', minimum: 40, maximum: 60_000 }, holdMs: { type: 'integer', minimum: 20, maximum: 5000 } },
              ['burstEveryMs', 'holdMs'],
            ),
            tagged(
              'random',
              'Each frame late by a uniform 0..maxMs (order kept: a late frame holds the ones behind it)',
              { maxMs: { type: 'integer', minimum: 20, maximum: 5000 }, seed },
              ['maxMs'],
            ),
          ],
        },
        echo: closed(
          'Line echo: what the caller hears comes back in what it sends',
          { delayMs: { type: 'integer', minimum: 0, maximum: 2000 }, attenuationDb: { type: 'number', minimum: 0, maximum: 100 } },
          ['delayMs', 'attenuationDb'],
        ),
      }),
      turns: {
        type: 'array',
        maxItems: 50,
        items: closed(
          'One thing the caller says',
          {
            audio,
            when,
            kind: {
              enum: ['turn', 'backchannel', 'noise'],
              description: 'turn: should be answered / should barge in; backchannel and noise: must NOT stop the bot',
            },
            pauseMs: { type: 'integer', minimum: 1, maximum: 5000, description: 'A pause inside the utterance (the bot must not answer in it)' },
            pauseAtMs: {
              type: 'integer',
              minimum: 0,
              maximum: 60_000,
              description: 'Where the pause goes, ms into the speech (from its onset); default: the middle',
            },
          },
          ['audio', 'when', 'kind'],
        ),
      },
      tailMs: ms('How long to stay on after the last turn (default 6000)', 120_000),
      maxDurationMs: ms('Hard cap on the call (default 60000)'),
      durationMs: ms('Stay on the call this long in all, instead of the tail (never cutting a turn short)'),
    },
    ['name', 'turns'],
  ),
} as const;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.stdout.write(JSON.stringify(EVAL_SCENARIO_SCHEMA, null, 2) + '\n');
