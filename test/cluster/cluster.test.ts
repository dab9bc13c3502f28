/**
 * `WORKERS=2` on the real process (`node dist/src/main.js`, port 0): calls land on both workers; `/metrics` adds the
 * workers up; `MAX_CALLS` and `/readyz` count the whole gateway; the console sees every worker's calls; logs say which
 * worker; a killed worker is replaced and only its calls are lost; SIGTERM drains every worker, then exit 0.
 */
import t from 'tap';
import { metricValue, until } from '../helpers/gateway.js';
import { openRawLeg, upgradeStatus, type RawLeg } from '../helpers/raw-leg.js';
import { freshGet, openSse, startCluster } from '../helpers/cluster-child.js';

const MAX_CALLS = 6;

t.test('WORKERS=2: spread, metrics, capacity, console, a killed worker, drain', async (t) => {
  const g = await startCluster({ WORKERS: '2', MAX_CALLS: String(MAX_CALLS), DRAIN_TIMEOUT_MS: '20000', CONSOLE_ENABLED: 'true' });
  t.teardown(() => void g.proc.kill('SIGKILL'));
  const up = g.logs.find((l) => l.msg === 'gateway listening')!;
  t.equal(up.workers, 2, 'the start-up line says two workers');
  t.ok((up.port as number) > 0, `one real port for both workers (${String(up.port)})`);
  t.equal(new Set(up.pids as number[]).size, 2, 'two worker processes');
  const ws = `ws://127.0.0.1:${g.port}/socket`;

  // ── calls land on more than one worker; logs say which ──
  const legs = new Map<string, RawLeg>();
  const open = async (uuid: string) => {
    const leg = await openRawLeg(ws);
    leg.handshake('audio/l16;rate=16000', { uuid });
    legs.set(uuid, leg);
    return leg;
  };
  for (let i = 1; i <= 4; i++) await open(`cl-${i}`);
  const workerOf = async (uuid: string) => (await g.untilLog((l) => l.msg === 'call started' && l.call === uuid, 10000, `${uuid} to start`)).worker as number;
  const where = new Map<string, number>();
  for (const id of legs.keys()) where.set(id, await workerOf(id));
  t.ok(
    [...where.values()].every((w) => Number.isInteger(w) && w > 0),
    'every call log line names its worker',
  );
  t.equal(new Set(where.values()).size, 2, `calls on both workers: ${JSON.stringify([...where])}`);

  // ── the console, connected to one worker, sees the calls of both ──
  const sse = await openSse(g.port, '/console/events');
  t.teardown(() => sse.close());
  const seen = () => {
    const ids = new Set<string>();
    for (const e of sse.events) {
      if (e.event === 'snapshot') for (const c of (e.data as { calls: Array<{ id: string }> }).calls) ids.add(c.id);
      if (e.event === 'call') ids.add((e.data as { id: string }).id);
    }
    return ids;
  };
  await until(() => ['cl-1', 'cl-2', 'cl-3', 'cl-4'].every((id) => seen().has(id)), 10000, 'the console to list every live call');
  t.pass('the console lists the calls of both workers on connect');
  for (let i = 5; i <= MAX_CALLS; i++) await open(`cl-${i}`);
  for (let i = 5; i <= MAX_CALLS; i++) where.set(`cl-${i}`, await workerOf(`cl-${i}`));
  await until(() => seen().has('cl-5') && seen().has('cl-6'), 10000, 'the console to hear of new calls');
  t.pass('new calls on either worker reach the console as they start');
  const workersIn = (name: string) => {
    const ws = new Set<number>();
    for (const e of sse.events) if (e.event === name) for (const c of (e.data as { calls: Array<{ id: string }> }).calls) ws.add(where.get(c.id) ?? -1);
    return ws;
  };
  await until(() => workersIn('stats').size > 0 && workersIn('stats-remote').size > 0, 10000, 'figures from both workers');
  const local = workersIn('stats');
  const remote = workersIn('stats-remote');
  t.equal(local.size + remote.size, 2, `this worker's figures as stats (worker ${[...local]}), the other's as stats-remote (worker ${[...remote]})`);
  t.notOk(
    [...local].some((w) => remote.has(w)),
    'never mixed',
  );

  // ── /metrics adds the workers up; MAX_CALLS and /readyz mean the whole gateway ──
  let m = (await freshGet(g.port, '/metrics')).body;
  t.equal(metricValue(m, 'gateway_active_calls'), MAX_CALLS, 'active calls summed over the workers');
  t.equal(metricValue(m, 'gateway_legs_accepted_total'), MAX_CALLS, 'legs accepted summed over the workers');
  t.equal(metricValue(m, 'gateway_workers'), 2, 'the primary reports its workers');
  const perWorker = new Map<number, number>();
  for (const w of where.values()) perWorker.set(w, (perWorker.get(w) ?? 0) + 1);
  t.ok(
    [...perWorker.values()].every((n) => n < MAX_CALLS),
    `no worker holds every call (${JSON.stringify([...perWorker])}), yet the gateway is full:`,
  );
  for (let i = 0; i < 4; i++) {
    const r = await freshGet(g.port, '/readyz');
    t.equal(r.status, 503, `readyz ${i + 1} (fresh connection): at capacity`);
    t.match(JSON.parse(r.body), { ready: false, reason: 'at capacity', calls: MAX_CALLS });
    t.equal((await upgradeStatus(ws)).status, 503, `leg ${MAX_CALLS + 1 + i} refused (gateway-wide MAX_CALLS)`);
  }

  // ── kill one worker: it is replaced, and only its calls are lost ──
  const victim = where.get('cl-1')!;
  const victimPid = g.logs.find((l) => l.msg === 'worker listening' && l.worker === victim)!.workerPid as number;
  const doomed = [...where].filter(([, w]) => w === victim).map(([id]) => id);
  const spared = [...where].filter(([, w]) => w !== victim).map(([id]) => id);
  process.kill(victimPid, 'SIGKILL');
  for (const id of doomed) t.equal((await legs.get(id)!.closed).code, 1006, `${id} (on the killed worker) is lost`);
  const died = await g.untilLog((l) => l.msg === 'worker died: replacing it (its calls are lost)', 10000, 'the primary to notice');
  t.equal(died.lostCalls, doomed.length, 'the primary counts exactly its calls as lost');
  await g.untilLog((l) => l.msg === 'worker listening' && (l.worker as number) > 2, 30000, 'a replacement worker');
  for (const id of spared) t.equal(legs.get(id)!.ws.readyState, legs.get(id)!.ws.OPEN, `${id} (on the other worker) goes on`);
  m = (await freshGet(g.port, '/metrics')).body;
  t.equal(metricValue(m, 'gateway_active_calls'), spared.length, 'active calls: the survivors');
  t.equal(metricValue(m, 'gateway_worker_restarts_total'), 1, 'one restart counted');
  t.equal(metricValue(m, 'gateway_worker_lost_calls_total'), doomed.length, 'lost calls counted');
  t.equal(metricValue(m, 'gateway_workers'), 2, 'two workers again');
  const r = JSON.parse((await freshGet(g.port, '/readyz')).body) as { ready: boolean; calls: number };
  t.match(r, { ready: true, calls: spared.length }, 'its slots are free again');
  const fresh: string[] = [];
  for (let i = 0; i < doomed.length; i++) {
    fresh.push(`cl-new-${i}`);
    await open(`cl-new-${i}`);
  }
  const newWorkers = new Set<number>();
  for (const id of fresh) newWorkers.add(await workerOf(id));
  t.ok([...newWorkers].some((w) => w > 2) || fresh.length < 2, `new calls reach the replacement (${[...newWorkers]})`);

  // ── SIGTERM drains every worker ──
  g.proc.kill('SIGTERM');
  await until(() => g.logs.filter((l) => l.msg === 'draining: no new calls').length >= 2, 10000, 'both workers to drain');
  const draining = new Set(g.logs.filter((l) => l.msg === 'draining: no new calls').map((l) => l.worker));
  t.equal(draining.size, 2, 'both workers drain');
  for (let i = 0; i < 3; i++) {
    const rr = await freshGet(g.port, '/readyz');
    t.equal(rr.status, 503, `readyz ${i + 1} while draining`);
    t.match(JSON.parse(rr.body), { reason: 'draining' });
    t.equal((await upgradeStatus(ws)).status, 503, 'new legs refused');
  }
  const live = [...legs.values()].filter((l) => l.ws.readyState === l.ws.OPEN);
  t.equal(live.length, MAX_CALLS, 'live calls on both workers go on while draining');
  for (const l of live) l.ws.close(1000);
  t.equal(await g.exited, 0, 'exit 0 once every worker has drained');
  t.ok(
    g.logs.some((l) => l.msg === 'gateway stopped' && l.code === 0),
    'the primary says so',
  );
});

t.test('WORKERS=2: a worker that fails to start stops the gateway with the clear error (no restart loop)', async (t) => {
  const { spawn } = await import('node:child_process');
  const p = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      WORKERS: '2',
      ASR_ADAPTER: 'none',
      TTS_ADAPTER: 'none',
      BOT_ADAPTER: './dist/test/fixtures/startup-faults.js',
      STARTUP_FAULT: 'throw',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void p.kill('SIGKILL'));
  let err = '';
  let out = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  t.equal(code, 1, 'exit 1');
  t.match(
    err,
    /^gateway failed to start: BOT_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter factory failed/,
    'the worker says why on stderr',
  );
  t.match(out, /"msg":"a worker failed to start: stopping the gateway"/);
  t.notMatch(out, /worker died: replacing it/, 'no restart loop');
});
