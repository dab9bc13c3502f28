/**
 * The deployment files stay true to the code. No Docker engine and no cluster here, so: the Dockerfile is parsed and
 * every property it promises is checked (its HEALTHCHECK command is run against a real gateway); every Kubernetes
 * object is validated against its schema (kubernetes-models; the ServiceMonitor with the Prometheus Operator's CRD
 * model); and ports, probe paths, settings, drain timing, metrics and scrape targets are cross-checked against the
 * gateway's config schema, its metrics registry and a real gateway answering the probe paths.
 */
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve, sep } from 'node:path';
import { CONFIG_SPECS, loadConfig } from '../../src/config/config.js';
import { Metrics } from '../../src/observability/metrics.js';
import { startGateway } from '../helpers/gateway.js';
import {
  composeDefault,
  dockerStages,
  parseAllYaml,
  dockerignore,
  durationSeconds,
  execForm,
  flagsOf,
  ignoredByDocker,
  ofKind,
  parseYaml,
  promqlGroupLabels,
  promqlMetrics,
  quantity,
  readYaml,
  readYamlDocs,
  validateK8s,
  type K8sObject,
} from '../helpers/deploy-files.js';
import { must } from '../helpers/must.js';

/** Every setting the gateway reads: the manifests, ConfigMap and compose file may use no other. */
const SETTINGS = new Set(CONFIG_SPECS.map((s) => s.env));
const K8S = 'deploy/kubernetes';
const BASE = `${K8S}/base`;
const SIDECAR_BOT_ARGS = ['node', 'examples/sidecar-bot.mjs', '--port', '8765'];

t.test('the sidecar bot the manifests run is the sample bot in the repository', async (t) => {
  t.ok(existsSync(must(SIDECAR_BOT_ARGS[1])), `${SIDECAR_BOT_ARGS[1]} exists`);
  t.match(readFileSync(must(SIDECAR_BOT_ARGS[1]), 'utf8'), /--port/, 'it takes --port');
});

// ── load everything once ─────────────────────────────────────────────────────────────────────────────────────────
const kustomization = readYaml(`${BASE}/kustomization.yaml`);
const base: K8sObject[] = (kustomization.resources as string[]).flatMap((f) => readYamlDocs(`${BASE}/${f}`));
const secret: K8sObject = readYamlDocs(`${BASE}/secret.example.yaml`)[0];
const adapterRules: K8sObject = readYamlDocs(`${K8S}/prometheus-adapter/rules.yaml`)[0];
const sidecarKustomization = readYaml(`${K8S}/sidecar/kustomization.yaml`);
const sidecarDeployment: K8sObject = readYamlDocs(`${K8S}/sidecar/deployment.yaml`)[0];
const one = (kind: string): K8sObject => {
  const found = base.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return must(found[0]);
};
const configMap = one('ConfigMap');
const deployment = one('Deployment');
const service = one('Service');
const cmConfig = loadConfig(configMap.data);
const gatewayPort = cmConfig.port;
const gatewayOf = (d: K8sObject) => d.spec.template.spec.containers.find((c: any) => c.name === 'gateway');
const stages = dockerStages('Dockerfile');
const runtime = must(stages[stages.length - 1]);
const compose = readYaml('deploy/compose.yaml');
const composeGateway = compose.services.gateway;
const composeEnv: Record<string, string> = Object.fromEntries(
  Object.entries(composeGateway.environment as Record<string, string>).map(([k, v]) => [k, composeDefault(String(v))]),
);
const dashboard = readYaml('deploy/grafana/gateway-dashboard.json');
const promConfig = readYaml('deploy/prometheus/prometheus.yml');

/** Run a node healthcheck command (`["node", "-e", …]`) as a real child process; resolves its exit code. */
function runNodeCheck(argv: string[], port: number): Promise<number> {
  if (argv[0] !== 'node') throw new Error(`not a node command: ${argv.join(' ')}`);
  return new Promise((resolve) => {
    const child = execFile(process.execPath, argv.slice(1), { env: { ...process.env, PORT: String(port) }, timeout: 20000 });
    child.on('exit', (code) => resolve(code ?? -1));
  });
}
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

// ── Dockerfile ─────────────────────────────────────────────────────────────────────────────────────────────────
t.test('Dockerfile: multi-stage, pinned base, dev deps only in the build stage, small runtime', async (t) => {
  t.ok(stages.length >= 2, 'multi-stage');
  const build = stages.find((s) => s.name === 'build');
  t.ok(build, 'a stage named build');
  for (const s of stages) {
    t.match(s.image, /^node:24\.\d+\.\d+-bookworm-slim$/, `${s.name}: pinned Node 24 LTS tag, not latest`);
    t.equal(s.image, must(stages[0]).image, 'every stage on the same base image');
  }
  const runs = (s: typeof runtime) => ofKind(s, 'RUN').map((i) => i.getArgumentsContent() ?? '');
  t.ok(
    runs(build!).some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)),
    'build stage: npm ci with dev dependencies',
  );
  t.ok(
    runs(build!).some((r) => /\btsc\b/.test(r)),
    'build stage compiles TypeScript',
  );
  t.ok(
    runs(runtime).some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
    'runtime stage: npm ci --omit=dev',
  );
  t.notOk(
    runs(runtime).some((r) => /\btsc\b|npm (install|i) /.test(r)),
    'runtime stage compiles and installs nothing else',
  );

  const apt = runs(runtime).find((r) => /apt-get install/.test(r)) ?? '';
  t.match(apt, /--no-install-recommends/);
  const pkgs = must(/apt-get install\s+([^&;]*)/.exec(apt)![1])
    .split(/\s+/)
    .filter((w) => w && !w.startsWith('-'));
  t.ok(pkgs.includes('pocketsphinx') && pkgs.includes('pocketsphinx-en-us'), 'offline ASR installed: ' + pkgs.join(' '));
  for (const tool of ['build-essential', 'gcc', 'g++', 'make', 'python3', 'git', 'curl', 'wget']) t.notOk(pkgs.includes(tool), `no ${tool}`);
  t.match(apt, /rm -rf \/var\/lib\/apt\/lists\/\*/, 'apt lists removed in the same layer');

  for (const c of ofKind(runtime, 'COPY').filter((i) => flagsOf(i).from)) {
    const src = c
      .getArguments()
      .map((a) => a.getValue())
      .filter((a) => !a.startsWith('--'))[0];
    t.equal(flagsOf(c).from, 'build');
    t.notMatch(src, /node_modules/, 'dev node_modules never copied into the runtime stage');
  }
});

t.test('Dockerfile: non-root, signals, port, HEALTHCHECK, exec form', async (t) => {
  const users = ofKind(runtime, 'USER');
  const user = users[users.length - 1]?.getArgumentsContent() ?? '';
  const uid = Number(user.split(':')[0]);
  t.ok(Number.isInteger(uid) && uid > 0, `numeric non-root USER (${user})`);
  const idx = (ins: unknown) => runtime.instructions.indexOf(ins as (typeof runtime.instructions)[number]);
  t.ok(idx(users[users.length - 1]) > Math.max(...ofKind(runtime, 'RUN').map(idx)), 'USER after every RUN');
  t.equal(deployment.spec.template.spec.securityContext.runAsUser, uid, 'the pod runs as the image user');

  t.equal(ofKind(runtime, 'STOPSIGNAL')[0]?.getArgumentsContent(), 'SIGTERM');
  const env = Object.fromEntries(ofKind(runtime, 'ENV').flatMap((e) => (e.getArgumentsContent() ?? '').split(/\s+/).map((kv) => kv.split('='))));
  for (const k of Object.keys(env)) t.ok(SETTINGS.has(k) || k === 'NODE_ENV', `ENV ${k} is a gateway setting`);
  t.equal(env.NODE_ENV, 'production');
  t.equal(Number(env.PORT), gatewayPort, 'ENV PORT = ConfigMap PORT');
  t.same(
    ofKind(runtime, 'EXPOSE').map((e) => Number(e.getArgumentsContent())),
    [gatewayPort],
    'EXPOSE the gateway port',
  );

  const entry = execForm(must(ofKind(runtime, 'ENTRYPOINT')[0]));
  t.same(entry, ['/usr/bin/tini', '--'], 'exec-form init that forwards signals and reaps children');
  const cmds = ofKind(runtime, 'CMD');
  const cmd = execForm(must(cmds[cmds.length - 1]));
  // `npm start` execs the same command (`exec` replaces npm's shell, so a signal to npm reaches Node).
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start.replace(/^exec /, '').split(' ');
  t.same(cmd, start, 'exec-form CMD (SIGTERM reaches Node), the same command as `npm start`');
  t.equal(cmd?.at(-1), 'dist/src/main.js');
  t.ok(existsSync('src/main.ts') && existsSync('dist/src/main.js'), 'the CMD entry point is what the build emits');
  const copied = ofKind(runtime, 'COPY').flatMap((c) => c.getArguments().map((a) => a.getValue()));
  t.ok(copied.includes('/app/dist/src') && copied.includes('examples'), 'compiled gateway and the example bots in the image');

  const hc = must(ofKind(runtime, 'HEALTHCHECK')[0]);
  const hcCmd = execForm(hc);
  t.ok(hcCmd, 'HEALTHCHECK CMD in exec form');
  t.equal(hcCmd![0], 'node', 'checked with node (no curl in the image)');
  t.match(hcCmd!.join(' '), /\/healthz/);
  const g = await startGateway(t);
  t.equal(await runNodeCheck(hcCmd!, g.port), 0, 'HEALTHCHECK passes against a live gateway');
  t.not(await runNodeCheck(hcCmd!, await closedPort()), 0, 'HEALTHCHECK fails when nothing listens');
});

t.test('.dockerignore keeps local state and secrets out; every COPY source is in the context', async (t) => {
  const ignore = dockerignore('.dockerignore');
  for (const p of ['node_modules', 'dist', '.git', '.env']) t.ok(ignoredByDocker(ignore, p), `${p} ignored`);
  for (const s of stages) {
    for (const c of ofKind(s, 'COPY').filter((i) => !flagsOf(i).from)) {
      const args = c
        .getArguments()
        .map((a) => a.getValue())
        .filter((a) => !a.startsWith('--'));
      for (const src of args.slice(0, -1)) {
        t.ok(existsSync(src), `${src} exists`);
        t.notOk(ignoredByDocker(ignore, src), `${src} not ignored`);
      }
    }
  }
});

// ── Kubernetes ─────────────────────────────────────────────────────────────────────────────────────────────────
t.test('every Kubernetes object validates against its schema', async (t) => {
  const all = [...base, secret, adapterRules, sidecarDeployment];
  t.same([...new Set(base.map((o) => o.kind))].sort(), [
    'ConfigMap',
    'Deployment',
    'HorizontalPodAutoscaler',
    'Ingress',
    'Namespace',
    'PodDisruptionBudget',
    'Service',
    'ServiceMonitor',
  ]);
  for (const o of all) t.doesNotThrow(() => validateK8s(o), `${o.kind}/${o.metadata.name}`);
  const broken = structuredClone(deployment);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
  t.throws(() => validateK8s(broken), /containerPort/, 'the validator catches a wrong type');
  const badMonitor = structuredClone(one('ServiceMonitor'));
  badMonitor.spec.endpoints[0].interval = 15;
  t.throws(() => validateK8s(badMonitor), /interval/, 'the ServiceMonitor CRD model catches a wrong type');
});

t.test('kustomizations: every file accounted for, namespace created, overlay outside its base', async (t) => {
  const yamls = readdirSync(BASE).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  t.same(
    yamls.filter((f) => !kustomization.resources.includes(f)),
    ['secret.example.yaml'],
    'only the secret example is applied by hand',
  );
  t.equal(one('Namespace').metadata.name, kustomization.namespace);
  t.same(sidecarKustomization.resources, ['../base']);
  const sidecarDir = resolve(K8S, 'sidecar');
  const baseDir = resolve(sidecarDir, sidecarKustomization.resources[0]);
  t.notOk(sidecarDir.startsWith(baseDir + sep), 'the overlay is not inside its base (kustomize refuses that cycle)');
  t.same(sidecarKustomization.patches, [{ path: 'deployment.yaml' }]);
  t.equal(sidecarDeployment.metadata.name, deployment.metadata.name, 'the sidecar Deployment patches the base one');
  t.equal(sidecarDeployment.metadata.namespace, kustomization.namespace, '…as the base builds it (with its namespace)');
  for (const [k, v] of Object.entries(deployment.spec)) {
    if (k !== 'template') t.same(sidecarDeployment.spec[k], v, `sidecar spec.${k} as the base`);
  }
});

// kubectl's built-in kustomize is on the development machines but not promised on every CI machine: where it is, the
// real tool builds both kustomizations and the output must be exactly the files (the sidecar pod as written).
// Without it the test is reported as skipped, with the reason, rather than passed.
const kubectl = (process.env.PATH ?? '')
  .split(delimiter)
  .map((d) => join(d, 'kubectl'))
  .find((p) => existsSync(p));
const noKubectl = 'kubectl is not installed: kustomize build not run (the structural checks above still hold)';
t.test('kubectl kustomize builds base and sidecar to exactly the files', { skip: kubectl ? false : noKubectl }, async (t) => {
  if (!kubectl) return; // skipped above (this narrows the type)
  const build = (dir: string) => execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 60000 });
  const builtBase = parseAllYaml(build(BASE));
  t.equal(builtBase.length, base.length);
  for (const o of base) {
    const want = o.kind === 'Namespace' ? o : { ...o, metadata: { ...o.metadata, namespace: kustomization.namespace } };
    t.same(
      builtBase.find((b) => b.kind === o.kind),
      want,
      `built ${o.kind} = file`,
    );
  }
  const builtSidecar = parseAllYaml(build(`${K8S}/sidecar`));
  t.same(
    builtSidecar.find((b) => b.kind === 'Deployment'),
    sidecarDeployment,
    'built sidecar Deployment = sidecar/deployment.yaml',
  );
  t.same(
    builtSidecar.filter((b) => b.kind !== 'Deployment'),
    builtBase.filter((b) => b.kind !== 'Deployment'),
    'the rest is the base',
  );
});

t.test('settings: ConfigMap, Secret and container env are gateway settings with valid values', async (t) => {
  for (const k of Object.keys(configMap.data))
    t.ok(
      CONFIG_SPECS.some((s) => s.env === k),
      `ConfigMap ${k}`,
    );
  for (const k of Object.keys(secret.stringData)) t.ok(SETTINGS.has(k), `Secret ${k}`);
  for (const d of [deployment, sidecarDeployment]) {
    const spec = d.spec.template.spec;
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const e of c.env ?? []) t.ok(SETTINGS.has(e.name), `${c.name} env ${e.name}`);
      for (const f of c.envFrom ?? []) {
        if (f.configMapRef) t.equal(f.configMapRef.name, configMap.metadata.name);
        if (f.secretRef) t.equal(f.secretRef.name, secret.metadata.name);
      }
    }
  }
  t.equal(new URL(cmConfig.publicUrl).protocol, 'https:', 'Vonage reaches the gateway over TLS');
});

t.test('Deployments: ports, probes, drain timing, resources, security', async (t) => {
  for (const d of [deployment, sidecarDeployment]) {
    const spec = d.spec.template.spec;
    const gw = gatewayOf(d);
    const port = gw.ports.find((p: any) => p.name === 'http');
    t.equal(port.containerPort, gatewayPort, 'containerPort = PORT');
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const p = gw[probe].httpGet;
      t.ok(p.port === 'http' || p.port === gatewayPort, `${probe} on the gateway port`);
    }
    t.equal(gw.livenessProbe.httpGet.path, '/healthz');
    t.equal(gw.startupProbe.httpGet.path, '/healthz');
    t.equal(gw.readinessProbe.httpGet.path, '/readyz');
    const ann = d.spec.template.metadata.annotations;
    t.equal(ann['prometheus.io/scrape'], 'true');
    t.equal(Number(ann['prometheus.io/port']), gatewayPort);
    t.equal(ann['prometheus.io/path'], '/metrics');

    const sleep = gw.lifecycle.preStop.exec.command;
    t.equal(sleep[0], 'sleep');
    const grace = spec.terminationGracePeriodSeconds;
    t.ok(grace > cmConfig.drainTimeoutMs / 1000 + Number(sleep[1]), `grace ${grace} s > drain + preStop`);
    t.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0, 'rollouts add capacity before draining');

    t.equal(spec.securityContext.runAsNonRoot, true);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      t.match(c.image, /:[\w.-]+$/);
      t.notMatch(c.image, /:latest$/);
      const sc = c.securityContext;
      t.ok(sc.readOnlyRootFilesystem && sc.allowPrivilegeEscalation === false && sc.capabilities.drop.includes('ALL'), `${c.name} locked down`);
      for (const r of ['cpu', 'memory']) {
        t.ok(quantity(c.resources.limits[r]) >= quantity(c.resources.requests[r]), `${c.name} ${r} limit >= request`);
      }
    }
  }
});

t.test('sidecar pod: the sample bot beside the gateway, on loopback', async (t) => {
  const bot = sidecarDeployment.spec.template.spec.initContainers.find((c: any) => c.name === 'bot');
  t.equal(bot.restartPolicy, 'Always', 'native sidecar: starts first, stops after the gateway drained');
  t.same(bot.args, SIDECAR_BOT_ARGS);
  t.notOk(bot.command, 'the image entrypoint (tini) stays PID 1');
  for (const p of [bot.startupProbe, bot.livenessProbe]) t.match(p.exec.command.join(' '), /connect\(8765,'127\.0\.0\.1'\)/);
  const gw = gatewayOf(sidecarDeployment);
  const env = Object.fromEntries(gw.env.map((e: any) => [e.name, e.value]));
  t.equal(env.BOT_ADAPTER, 'remote');
  t.equal(env.BOT_URL, `ws://127.0.0.1:${SIDECAR_BOT_ARGS[3]}`);
  const { env: _e, ...sidecarRest } = gw;
  t.same(sidecarRest, gatewayOf(deployment), 'otherwise the same gateway container as the base');
});

t.test('Service, Ingress, HPA, PDB, ServiceMonitor agree with the Deployment and the code', async (t) => {
  const podLabels = deployment.spec.template.metadata.labels;
  const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
  t.ok(matches(service.spec.selector), 'Service selects the pods');
  t.equal(service.spec.ports[0].targetPort, 'http');

  const ing = one('Ingress');
  const host = new URL(cmConfig.publicUrl).host;
  t.equal(ing.spec.rules[0].host, host, 'Ingress host = PUBLIC_URL host');
  t.ok(ing.spec.tls[0].hosts.includes(host), 'TLS for that host');
  const paths = ing.spec.rules[0].http.paths;
  t.ok(
    paths.some((p: any) => p.path === cmConfig.wsPath && p.pathType === 'Exact'),
    'the WebSocket path',
  );
  t.ok(
    paths.some((p: any) => p.path === '/webhooks' && p.pathType === 'Prefix'),
    'the webhooks',
  );
  t.notOk(
    paths.some((p: any) => p.path === '/' || p.path.startsWith('/metrics')),
    '/metrics not public',
  );
  for (const p of paths) {
    t.equal(p.backend.service.name, service.metadata.name);
    t.ok(service.spec.ports.some((sp: any) => sp.name === p.backend.service.port.name));
  }
  const a = ing.metadata.annotations ?? {};
  for (const k of ['proxy-read-timeout', 'proxy-send-timeout']) {
    const s = Number(a[`nginx.ingress.kubernetes.io/${k}`]);
    t.ok(s >= 3600 && s * 1000 > Math.max(cmConfig.pingIntervalMs, cmConfig.idleTimeoutMs), `${k} ${s} s`);
  }

  const names = new Set((await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const hpa = one('HorizontalPodAutoscaler');
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  const pods = hpa.spec.metrics.find((m: any) => m.type === 'Pods').pods;
  t.equal(pods.metric.name, 'gateway_active_calls');
  t.ok(names.has(pods.metric.name), 'the HPA metric is one the gateway exports');
  t.ok(quantity(pods.target.averageValue) < cmConfig.maxCalls, 'target below MAX_CALLS');
  t.ok(
    hpa.spec.metrics.some((m: any) => m.type === 'Resource' && m.resource.name === 'cpu'),
    'and CPU',
  );
  t.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);

  const rules = parseYaml(adapterRules.data['config.yaml']).rules;
  const rule = rules.find((r: any) => r.name.as === pods.metric.name);
  t.ok(rule, 'prometheus-adapter serves the HPA metric');
  t.same(promqlMetrics(rule.seriesQuery), [pods.metric.name]);
  t.same(Object.keys(rule.resources.overrides).sort(), ['namespace', 'pod'], 'per pod, as a Pods metric needs');

  t.ok(matches(one('PodDisruptionBudget').spec.selector.matchLabels), 'PDB selects the pods');
  const sm = one('ServiceMonitor');
  t.ok(
    Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels?.[k] === v),
    'ServiceMonitor selects the Service',
  );
  t.ok(service.spec.ports.some((p: any) => p.name === sm.spec.endpoints[0].port));
});

t.test('every probe, healthcheck and scrape path is served by a real gateway', async (t) => {
  const g = await startGateway(t);
  const paths = new Set<string>();
  for (const d of [deployment, sidecarDeployment]) {
    const gw = gatewayOf(d);
    for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) paths.add(gw[p].httpGet.path);
    paths.add(d.spec.template.metadata.annotations['prometheus.io/path']);
  }
  for (const e of one('ServiceMonitor').spec.endpoints) paths.add(e.path);
  for (const j of promConfig.scrape_configs) paths.add(j.metrics_path ?? '/metrics');
  t.ok(paths.size >= 3);
  for (const p of paths) t.equal((await fetch(g.url + p)).status, 200, `GET ${p}`);
  const hc = composeGateway.healthcheck.test as string[];
  t.equal(hc[0], 'CMD');
  t.equal(await runNodeCheck(hc.slice(1), g.port), 0, 'compose healthcheck passes against a live gateway');
});

// ── compose, Prometheus, Grafana ───────────────────────────────────────────────────────────────────────────────
t.test('compose: gateway + sidecar bot + Prometheus + Grafana, consistent with the config', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['bot', 'gateway', 'grafana', 'prometheus']);
  for (const k of Object.keys(composeEnv)) t.ok(SETTINGS.has(k), `gateway env ${k}`);
  const cfg = loadConfig(composeEnv);
  t.equal(composeEnv.BOT_ADAPTER, 'remote');
  t.equal(composeEnv.BOT_URL, `ws://127.0.0.1:${SIDECAR_BOT_ARGS[3]}`);
  const bot = compose.services.bot;
  t.same(bot.command, SIDECAR_BOT_ARGS);
  t.equal(bot.image, composeGateway.image, 'the bot runs from the gateway image');
  t.equal(composeGateway.network_mode, 'service:bot', 'one network namespace, like a pod');
  t.equal(composeGateway.depends_on.bot.condition, 'service_healthy');
  t.ok(
    bot.ports.some((p: string) => Number(p.split(':').pop()) === cfg.port),
    'the gateway port is published',
  );
  t.match(bot.healthcheck.test.join(' '), new RegExp(`connect\\(${SIDECAR_BOT_ARGS[3]},`));
  t.ok(durationSeconds(composeGateway.stop_grace_period) > cfg.drainTimeoutMs / 1000, 'stop grace > drain');
  t.equal(composeGateway.build.context, '..');
  t.ok(existsSync(join('deploy', composeGateway.build.context, composeGateway.build.dockerfile)));
  for (const s of Object.values<any>(compose.services)) {
    for (const v of s.volumes ?? []) t.ok(existsSync(join('deploy', v.split(':')[0])), `volume ${v}`);
  }

  const job = promConfig.scrape_configs.find((j: any) => j.job_name === 'vonage-gateway');
  t.equal(job.metrics_path, '/metrics');
  const [host, port] = job.static_configs[0].targets[0].split(':');
  t.equal(Number(port), cfg.port, 'Prometheus scrapes the gateway port');
  t.ok(bot.networks.default.aliases.includes(host), `${host} resolves to the gateway's network namespace`);
});

t.test('Grafana: provisioning wires the dashboard, and it queries only metrics the gateway exports', async (t) => {
  const dsFile = readYaml('deploy/grafana/provisioning/datasources/prometheus.yaml');
  const ds = dsFile.datasources[0];
  const promUrl = new URL(ds.url);
  t.equal(promUrl.hostname, 'prometheus');
  t.ok(compose.services.prometheus.ports.some((p: string) => p.endsWith(`:${promUrl.port}`)));
  const provider = readYaml('deploy/grafana/provisioning/dashboards/gateway.yaml').providers[0];
  t.ok(
    compose.services.grafana.volumes.some((v: string) => v.split(':')[1] === `${provider.options.path}/gateway-dashboard.json`),
    'dashboard mounted where the provider reads',
  );

  // Every exported metric name, with its label names.
  const m = new Metrics();
  const known = new Map<string, Set<string>>();
  for (const { name } of await m.registry.getMetricsAsJSON()) {
    const metric = m.registry.getSingleMetric(name) as unknown as { labelNames?: string[] };
    known.set(name, new Set(metric?.labelNames ?? []));
  }
  const panels = dashboard.panels.filter((p: any) => p.type !== 'row');
  t.equal(new Set(dashboard.panels.map((p: any) => p.id)).size, dashboard.panels.length, 'unique panel ids');
  const queried = new Set<string>();
  for (const p of panels) {
    t.equal(p.datasource.uid, ds.uid, `${p.title}: provisioned datasource`);
    for (const target of p.targets) {
      const used = promqlMetrics(target.expr);
      t.ok(used.length > 0, `${p.title}: ${target.expr}`);
      for (const n of used) {
        t.ok(known.has(n), `${n} is exported by the gateway`);
        queried.add(n);
      }
      const allowed = new Set(['le', 'quantile', 'instance', 'pod', 'job', 'namespace', ...used.flatMap((n) => [...(known.get(n) ?? [])])]);
      for (const l of promqlGroupLabels(target.expr)) t.ok(allowed.has(l), `${p.title}: label ${l}`);
    }
  }
  for (const required of [
    'gateway_active_calls',
    'gateway_turn_latency_seconds',
    'gateway_asr_final_latency_seconds',
    'gateway_bot_first_text_latency_seconds',
    'gateway_tts_first_audio_latency_seconds',
    'gateway_pacer_late_sends_total',
    'gateway_ticker_late_ticks_total',
    'gateway_call_jitter_ms',
    'gateway_jitter_underruns_total',
    'gateway_legs_refused_total',
    'gateway_legs_closed_total',
    'gateway_adapter_errors_total',
    'gateway_frames_in_total',
    'gateway_frames_out_total',
  ])
    t.ok(queried.has(required), `dashboard shows ${required}`);
  t.ok(
    panels.some((p: any) => p.targets.some((x: any) => /histogram_quantile\(0\.\d+, .*gateway_turn_latency_seconds_bucket/.test(x.expr))),
    'turn latency percentiles',
  );
});

t.test('docs/operations.md "Deploying" names every deployment file and says what is and is not verified', async (t) => {
  const ops = readFileSync('docs/operations.md', 'utf8');
  const section = ops.slice(ops.indexOf('## Deploying'), ops.indexOf('## Observability'));
  t.match(section, /validated by tests, not built or applied here/);
  for (const f of readdirSync(BASE).filter((x) => x !== 'kustomization.yaml' && x !== 'namespace.yaml')) t.ok(section.includes(f), f);
  for (const f of ['prometheus-adapter/rules.yaml', 'deploy/compose.yaml', 'deploy/grafana/gateway-dashboard.json', 'deploy/kubernetes/sidecar']) {
    t.ok(section.includes(f), f);
  }
});
