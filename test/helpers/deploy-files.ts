/**
 * Reading the deployment files for test/deploy/deploy.test.ts: YAML documents, Kubernetes objects validated with
 * kubernetes-models (the ServiceMonitor with the Prometheus Operator's CRD model), the Dockerfile parsed with
 * dockerfile-ast and cut into stages, and small parsers for quantities, durations and PromQL metric names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseAllDocuments, parse as parseYamlText } from 'yaml';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { must } from './must.js';

/** A Kubernetes object as parsed from YAML (shape checked by {@link validateK8s}). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

/** Every YAML document of a file, as plain JS; a YAML syntax error throws. */
export function readYamlDocs(path: string): any[] {
  return parseAllYaml(readFileSync(path, 'utf8'), path);
}

/** Every YAML document of a text, as plain JS; a YAML syntax error throws. */
export function parseAllYaml(text: string, what = 'yaml'): any[] {
  const docs = parseAllDocuments(text);
  const out: any[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${what}: ${d.errors.map((e) => e.message).join('; ')}`);
    const js = d.toJS();
    if (js != null) out.push(js);
  }
  return out;
}

export function readYaml(path: string): any {
  return parseYamlText(readFileSync(path, 'utf8'));
}

export function parseYaml(text: string): any {
  return parseYamlText(text);
}

type ModelClass = new (data: any) => { validate(): void };
/** apiVersion/kind → the model that validates it. */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Validate one object against its Kubernetes (or CRD) schema; throws with the schema errors, or for an unknown kind. */
export function validateK8s(obj: K8sObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no model for ${obj.apiVersion} ${obj.kind}`);
  if (!obj.metadata?.name) throw new Error(`${obj.kind} without metadata.name`);
  new Model(obj).validate();
}

/** Kubernetes quantity → a number (cores for cpu, bytes for memory). */
export function quantity(q: string | number): number {
  const s = String(q);
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(s);
  if (!m) throw new Error(`bad quantity ${s}`);
  const mult: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * must(mult[m[2] ?? '']);
}

/** A compose/Prometheus duration ("40s", "1m30s", "500ms") in seconds. */
export function durationSeconds(d: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let seen = '';
  for (let m = re.exec(d); m; m = re.exec(d)) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    seen += m[0];
  }
  if (seen !== d) throw new Error(`bad duration ${d}`);
  return total;
}

/** Compose `${VAR:-default}` / `${VAR-default}` → default (what compose uses when VAR is unset). */
export function composeDefault(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:?-([^}]*)\}/g, '$1');
}

/** One build stage of the Dockerfile. */
export interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

export function dockerStages(path: string): Stage[] {
  const df = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const stages: Stage[] = [];
  for (const ins of df.getInstructions()) {
    if (ins.getKeyword() === 'FROM') {
      const args = ins.getArguments().map((a) => a.getValue());
      const as = args.findIndex((a) => a.toUpperCase() === 'AS');
      stages.push({ name: as >= 0 ? args[as + 1] : undefined, image: must(args[0]), instructions: [] });
    } else if (stages.length) {
      must(stages[stages.length - 1]).instructions.push(ins);
    } else {
      throw new Error(`${ins.getKeyword()} before the first FROM`);
    }
  }
  return stages;
}

/** Instructions of a stage with this keyword. */
export function ofKind(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.getKeyword() === keyword);
}

/** The flags (`--from=build`) of an instruction that has them. */
export function flagsOf(ins: Instruction): Record<string, string | null> {
  const withFlags = ins as unknown as { getFlags?: () => Array<{ getName(): string; getValue(): string | null }> };
  const out: Record<string, string | null> = {};
  for (const f of withFlags.getFlags?.() ?? []) out[f.getName()] = f.getValue();
  return out;
}

/** The JSON (exec-form) array of CMD/ENTRYPOINT/HEALTHCHECK CMD, or undefined for the shell form. */
export function execForm(ins: Instruction): string[] | undefined {
  let text = (ins.getArgumentsContent() ?? '').trim();
  if (ins.getKeyword() === 'HEALTHCHECK') {
    if (!/^CMD\s/.test(text)) return undefined;
    text = text.slice(3).trim();
  }
  if (!text.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/** `.dockerignore` patterns (comments and blanks dropped). */
export function dockerignore(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Whether a context path is excluded by simple .dockerignore patterns (names, `dir`, `*.ext`, `.env.*`). */
export function ignoredByDocker(patterns: string[], path: string): boolean {
  const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
  const first = must(clean.split('/')[0]);
  return patterns.some((p) => {
    if (p.startsWith('!')) return false;
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return re.test(clean) || re.test(first);
  });
}

/** Metric names a PromQL expression reads (gateway_* only), with histogram/summary suffixes stripped. */
export function promqlMetrics(expr: string): string[] {
  const names = expr.match(/\bgateway_[A-Za-z0-9_:]+/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

/** Label names in `by (...)` / `without (...)` clauses of a PromQL expression. */
export function promqlGroupLabels(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of must(m[1]).split(',')) if (l.trim()) out.push(l.trim());
  }
  return out;
}
