/** The cluster's pure parts: WORKERS=auto under a cgroup quota, the gateway-wide call slots, summary aggregation. */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregatorRegistry, Registry, Summary, Counter } from 'prom-client';
import { autoWorkers, cpusFromCpuMax } from '../../src/cluster/cores.js';
import { CallSlots } from '../../src/cluster/slots.js';
import { QUANTILE_MEAN, registerAggregators } from '../../src/cluster/aggregate.js';
import { loadConfig } from '../../src/config/config.js';
import { metricValue } from '../helpers/gateway.js';

t.test('WORKERS=auto: the cores, capped by a cgroup v2 CPU quota (rounded up)', async (t) => {
  t.equal(cpusFromCpuMax('max 100000\n'), undefined, 'no quota');
  t.equal(cpusFromCpuMax('200000 100000\n'), 2);
  t.equal(cpusFromCpuMax('150000 100000'), 2, '1.5 CPUs: 2 workers');
  t.equal(cpusFromCpuMax('50000 100000'), 1);
  t.equal(cpusFromCpuMax('garbage'), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'cpumax-'));
  const f = join(dir, 'cpu.max');
  writeFileSync(f, '200000 100000\n');
  t.equal(autoWorkers(16, f), 2, 'a 2-CPU container on a 16-core host: 2');
  t.equal(autoWorkers(1, f), 1, 'the affinity count when it is lower');
  writeFileSync(f, 'max 100000\n');
  t.equal(autoWorkers(8, f), 8, 'no quota: every core');
  t.equal(autoWorkers(4, join(dir, 'missing')), 4, 'no cgroup v2 file: every core');
  t.equal(loadConfig({ WORKERS: '3' }).workers, 3);
  t.ok(loadConfig({}).workers >= 1, 'default auto resolves to a count');
  t.throws(() => loadConfig({ WORKERS: '0' }), /WORKERS="0" is invalid/);
  t.throws(() => loadConfig({ WORKERS: 'many' }), /WORKERS="many" is invalid/);
});

t.test('call slots: MAX_CALLS over every worker; a dead worker frees its own', async (t) => {
  const s = new CallSlots(3);
  t.ok(s.take(1) && s.take(2) && s.take(2), 'three slots over two workers');
  t.notOk(s.take(1), 'the fourth is refused, whichever worker asks');
  s.release(1);
  t.equal(s.total, 2);
  s.release(1);
  t.equal(s.total, 2, 'a release a worker does not hold is ignored');
  t.ok(s.take(1));
  t.equal(s.dropWorker(2), 2, 'worker 2 dies holding 2');
  t.equal(s.total, 1, 'only its slots are freed');
  t.ok(s.take(3) && s.take(3), 'free for others');
  t.notOk(s.take(1));
});

t.test("aggregation: counters summed; a summary's _sum/_count summed and its quantiles averaged", async (t) => {
  registerAggregators();
  const per = await Promise.all(
    [
      [10, 20],
      [30, 50],
    ].map(async (obs) => {
      const r = new Registry();
      const s = new Summary({ name: 'j_ms', help: 'h', percentiles: [0.5], registers: [r], aggregator: QUANTILE_MEAN as 'average' });
      const c = new Counter({ name: 'c_total', help: 'h', registers: [r] });
      for (const o of obs) s.observe(o);
      c.inc(obs.length);
      return r.getMetricsAsJSON();
    }),
  );
  const text = await AggregatorRegistry.aggregate(per).metrics();
  t.equal(metricValue(text, 'c_total'), 4, 'counter summed');
  t.equal(metricValue(text, 'j_ms_count'), 4, 'summary count summed');
  t.equal(metricValue(text, 'j_ms_sum'), 110, 'summary sum summed');
  t.equal(metricValue(text, 'j_ms{quantile="0.5"}'), (15 + 40) / 2, "median: the mean of the workers' medians");
});
