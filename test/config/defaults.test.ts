import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 8080);
});
