/** The IVR example re-prompts on silence and on off-menu speech, a bounded number of times (see ivr-example.test.ts). */
import t from 'tap';
import { startGateway, untilLog } from '../helpers/gateway.js';
import { simulateCall } from '../../src/sim/simulator.js';
import { answer, IVR_ENV, mine } from '../helpers/ivr.js';

t.test('8000 Hz leg: silence and off-menu speech are re-prompted, then the bot gives up', async (t) => {
  const g = await startGateway(t, { ...IVR_ENV, AUDIO_RATE: '8000', IVR_MAX_PROMPTS: '2' });
  const garbage = await answer('the weather is nice today', 2000);
  const silent = simulateCall({ url: g.url, uuid: 'ivr-silence', tailMs: 60000 });
  const offMenu = simulateCall({ url: g.url, uuid: 'ivr-garbage', audio: garbage, tailMs: 60000 });
  const noInput = await untilLog(g, mine('ivr-silence', 'ivrReprompt'), 30000, 're-prompt on silence');
  t.equal(noInput.ivrReprompt, 'no-input');
  const noMatch = await untilLog(g, mine('ivr-garbage', 'ivrReprompt'), 30000, 're-prompt on off-menu speech');
  t.equal(noMatch.ivrReprompt, 'no-match', `heard "${String(noMatch.heard)}"`);
  t.notOk(g.logs.some(mine('ivr-garbage', 'ivrChoice')), 'off-menu speech chose nothing');
  const end = await untilLog(g, mine('ivr-silence', 'ivrEnd'), 60000, 'gives up after IVR_MAX_PROMPTS');
  t.equal(end.ivrEnd, 'no-choice');
  const s = await silent;
  t.equal(s.closeReason, 'bot hung up', 'a bounded number of prompts, then goodbye');
  await offMenu;
});
