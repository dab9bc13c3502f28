/** Handshake and text-event parsing, including property tests: never throws anything but GatewayError. */
import t from 'tap';
import fc from 'fast-check';
import { parseHandshake, parseLegEvent, parseContentType } from '../../src/leg/handshake.js';
import { CloseCode, GatewayError } from '../../src/errors.js';

t.test('accepts the three rates and keeps the flattened headers as metadata', async (t) => {
  for (const rate of [8000, 16000, 24000]) {
    const h = parseHandshake(
      JSON.stringify({ event: 'websocket:connected', 'content-type': `audio/l16;rate=${rate}`, uuid: 'u', from: '447700900001', custom: 1 }),
      false,
    );
    t.equal(h.sampleRateHz, rate);
    t.same({ ...h.metadata }, { uuid: 'u', from: '447700900001', custom: 1 });
  }
  t.equal(parseContentType(' Audio/L16 ; Rate = 16000 '), 16000, 'tolerant of case and spaces');
  t.equal(parseContentType('audio/l16;rate=44100'), undefined);
});

t.test('refusals carry the right code and close code', async (t) => {
  const cases: Array<[Buffer | string, boolean, string, number]> = [
    [Buffer.alloc(640), true, 'HANDSHAKE_MALFORMED', CloseCode.HANDSHAKE_MALFORMED],
    ['nope', false, 'HANDSHAKE_MALFORMED', CloseCode.HANDSHAKE_MALFORMED],
    ['[]', false, 'HANDSHAKE_MALFORMED', CloseCode.HANDSHAKE_MALFORMED],
    ['null', false, 'HANDSHAKE_MALFORMED', CloseCode.HANDSHAKE_MALFORMED],
    ['{"event":"websocket:dtmf"}', false, 'HANDSHAKE_MALFORMED', CloseCode.HANDSHAKE_MALFORMED],
    ['{"event":"websocket:connected"}', false, 'UNSUPPORTED_CONTENT_TYPE', CloseCode.UNSUPPORTED_CONTENT_TYPE],
    ['{"event":"websocket:connected","content-type":"audio/l16;rate=11025"}', false, 'UNSUPPORTED_CONTENT_TYPE', CloseCode.UNSUPPORTED_CONTENT_TYPE],
    ['{"event":"websocket:connected","content-type":7}', false, 'UNSUPPORTED_CONTENT_TYPE', CloseCode.UNSUPPORTED_CONTENT_TYPE],
  ];
  for (const [data, bin, code, close] of cases) {
    try {
      parseHandshake(data, bin);
      t.fail(`accepted ${String(data).slice(0, 30)}`);
    } catch (e) {
      t.ok(e instanceof GatewayError);
      t.equal((e as GatewayError).code, code);
      t.equal((e as GatewayError).closeCode, close);
    }
  }
});

t.test('post-handshake events', async (t) => {
  t.same(parseLegEvent('{"event":"websocket:dtmf","digit":"5","duration":260}'), { kind: 'dtmf', digit: '5', durationMs: 260 });
  t.same(parseLegEvent('{"event":"websocket:dtmf","digit":7}'), { kind: 'dtmf', digit: '7', durationMs: 0 });
  t.same(parseLegEvent('{"event":"websocket:dtmf","digit":"#"}'), { kind: 'dtmf', digit: '#', durationMs: 0 });
  t.equal(parseLegEvent('{"event":"websocket:dtmf","digit":"55"}').kind, 'malformed');
  t.same(parseLegEvent('{"event":"websocket:cleared"}'), { kind: 'cleared' });
  t.same(parseLegEvent('{"event":"websocket:notify","payload":{"a":1}}'), { kind: 'notify', payload: { a: 1 } });
  t.same(parseLegEvent('{"event":"websocket:media:update"}'), { kind: 'unknown', event: 'websocket:media:update' });
  t.equal(parseLegEvent('{}').kind, 'malformed');
  t.equal(parseLegEvent('garbage').kind, 'malformed');
});

t.test('property: arbitrary input never throws from parseLegEvent, only GatewayError from parseHandshake', async (t) => {
  const json = fc.jsonValue().map((v) => JSON.stringify(v));
  const mutatedHandshake = fc
    .record(
      {
        event: fc.oneof(fc.constant('websocket:connected'), fc.string()),
        'content-type': fc.oneof(fc.string(), fc.integer(), fc.constant('audio/l16;rate=16000')),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o));
  fc.assert(
    fc.property(fc.oneof(fc.string(), json, mutatedHandshake), fc.boolean(), (s, bin) => {
      parseLegEvent(s);
      try {
        parseHandshake(bin ? Buffer.from(s) : s, bin);
      } catch (e) {
        if (!(e instanceof GatewayError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 cases');
});
