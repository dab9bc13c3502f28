/** Languages and voices per call: from config, from the number dialled (answer webhook) or from the NCCO headers. */
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { startGateway, untilLog } from '../helpers/gateway.js';
import { openRawLeg } from '../helpers/raw-leg.js';
import { must } from '../helpers/must.js';

const MAP = '447700900001=en-GB/en-GB-SoniaNeural, +33 170000000=fr-FR';

t.test('LANGUAGE_BY_NUMBER is parsed and validated', async (t) => {
  const c = loadConfig({ LANGUAGE_BY_NUMBER: MAP });
  t.same(c.languageByNumber, { '447700900001': { language: 'en-GB', voice: 'en-GB-SoniaNeural' }, '33170000000': { language: 'fr-FR' } });
  t.ok(Object.isFrozen(c.languageByNumber));
  t.throws(
    () => loadConfig({ LANGUAGE_BY_NUMBER: '4477=english!' }),
    /LANGUAGE_BY_NUMBER="4477=english!" is invalid: expected comma-separated number=language/,
  );
  t.throws(() => loadConfig({ LANGUAGE_BY_NUMBER: 'abc=en-GB' }), /LANGUAGE_BY_NUMBER/);
});

async function answer(url: string, to: string): Promise<{ headers: Record<string, string> }> {
  const res = await fetch(`${url}/webhooks/answer?uuid=u-${to.replace(/\D/g, '')}&conversation_uuid=CON-1&from=447700900000&to=${encodeURIComponent(to)}`);
  const ncco = (await res.json()) as Array<{ endpoint: Array<{ headers: Record<string, string> }> }>;
  return { headers: must(must(ncco[0]).endpoint[0]).headers };
}

t.test('the number dialled picks the language and voice; they reach the adapters through the NCCO headers', async (t) => {
  const g = await startGateway(t, { LANGUAGE_BY_NUMBER: MAP, LANGUAGE: 'en-US', TTS_ADAPTER: './dist/test/fixtures/sine-tts.js' });
  const gb = await answer(g.url, '447700900001');
  t.match(gb.headers, { language: 'en-GB', voice: 'en-GB-SoniaNeural' });
  const fr = await answer(g.url, '+33170000000');
  t.match(fr.headers, { language: 'fr-FR' });
  t.notOk('voice' in fr.headers);
  const other = await answer(g.url, '15550001111');
  t.notOk('language' in other.headers, 'unmapped numbers carry no language: the gateway default applies');

  // Vonage echoes the NCCO headers in the handshake: the echo bot's greeting is synthesised in that language/voice.
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', gb.headers);
  const req = await untilLog(g, (l) => l.msg === 'sine tts request', 10000, 'greeting synthesis');
  t.match(req, { language: 'en-GB', voice: 'en-GB-SoniaNeural' });
  leg.ws.close();

  const leg2 = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg2.handshake('audio/l16;rate=16000', other.headers);
  const req2 = await untilLog(g, (l) => l.msg === 'sine tts request' && l.language === 'en-US', 10000, 'default-language greeting');
  t.equal(req2.voice, undefined, 'no voice: the adapter default');
  leg2.ws.close();
});

t.test('a malformed language or voice in the handshake falls back to the defaults', async (t) => {
  const g = await startGateway(t, { LANGUAGE: 'de-DE', TTS_VOICE: 'kal', TTS_ADAPTER: './dist/test/fixtures/sine-tts.js' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'bad-lang', language: '../../etc/passwd', voice: '<script>' });
  const req = await untilLog(g, (l) => l.msg === 'sine tts request', 10000, 'greeting synthesis');
  t.match(req, { language: 'de-DE', voice: 'kal' });
  leg.ws.close();
});
