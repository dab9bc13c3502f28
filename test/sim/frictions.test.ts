/** The simulator as a newcomer meets it: back-to-back replies counted apart, a gateway that is down named with its URL and cause. */
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/child-gateway.js';
import { simulateCall } from '../../src/sim/simulator.js';
import { fetchCause } from '../../src/sim/vonage-leg.js';
import { must } from '../helpers/must.js';

t.test('two replies sent back to back are two replies', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: './dist/test/fixtures/two-replies-bot.js' });
  const s = await simulateCall({ url: g.url, tailMs: 2500 });
  t.equal(s.replies.length, 2, `replies: ${JSON.stringify(s.replies)}`);
  t.equal(must(s.replies[0]).frames, 30, 'the first: 600 ms');
  t.equal(must(s.replies[1]).frames, 30, 'the second: 600 ms');
  t.equal(s.notifies.length, 2, 'each ended with its notify');
});

t.test('a gateway that is down: the error names the URL and the cause', async (t) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await t.rejects(
    simulateCall({ url, tailMs: 100 }),
    new RegExp(`answer webhook ${url.replace(/\./g, '\\.')}/webhooks/answer: .*ECONNREFUSED.*is the gateway running`),
  );
  await t.rejects(
    simulateCall({ url: 'http://no-such-host.invalid:8080', tailMs: 100 }),
    /no-such-host\.invalid:8080\/webhooks\/answer: .*(ENOTFOUND|EAI_AGAIN)/,
  );
  t.equal(fetchCause(Object.assign(new Error('fetch failed'), { cause: new DOMException('t', 'TimeoutError') })), 'no answer within 5 s');
});
