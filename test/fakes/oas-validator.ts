/**
 * Request validation against an OpenAPI 3.0 document with ajv: routes from `paths` (relative to the first server
 * URL's path), JSON request bodies against their schemas. OAS-3 dialect handled: `$ref` to `#/components/schemas/*`,
 * `nullable`, `discriminator` (its mapping enforced), vendor `x-*` and `example` annotations dropped.
 */
import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { must } from '../helpers/must.js';

// ajv and ajv-formats are CommonJS: under NodeNext their export is the module's `default` property.
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as typeof AjvModule.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as typeof addFormatsModule.default;
type ValidateFn = ReturnType<InstanceType<typeof Ajv>['compile']>;

export interface Route {
  method: string;
  /** Template relative to the server path, e.g. `/{uuid}/dtmf`. */
  template: string;
  operationId: string;
  regex: RegExp;
  params: string[];
  bodyRequired: boolean;
  validate: ValidateFn | undefined;
  /** Documented answer statuses. */
  responses: string[];
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** OAS 3.0 schema → JSON Schema (draft 2019/07 as ajv reads it). */
export function oasToJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(oasToJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k.startsWith('x-') || k === 'example' || k === 'nullable' || k === 'discriminator' || k === 'xml' || k === 'externalDocs') continue;
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace('#/components/schemas/', '#/definitions/');
    else if (k === 'properties' && v && typeof v === 'object') out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, oasToJsonSchema(s)]));
    else out[k] = oasToJsonSchema(v);
  }
  if (src.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    if (!out.type && !out.enum) return { anyOf: [out, { type: 'null' }] };
  }
  const d = src.discriminator as { propertyName?: string; mapping?: Record<string, string> } | undefined;
  if (d?.propertyName && d.mapping) {
    // The discriminator picks exactly one schema by the property's value; plain oneOf would accept look-alikes.
    const prop = d.propertyName;
    const keys = Object.keys(d.mapping);
    delete out.oneOf;
    delete out.anyOf;
    out.required = [...new Set([...((out.required as string[]) ?? []), prop])];
    out.properties = { ...(out.properties ?? {}), [prop]: { ...(((out.properties as Record<string, object>) ?? {})[prop] ?? {}), enum: keys } };
    out.allOf = [
      ...((out.allOf as unknown[]) ?? []),
      ...keys.map((k) => ({
        if: { properties: { [prop]: { const: k } } },
        then: { $ref: must((d.mapping as Record<string, string>)[k]).replace('#/components/schemas/', '#/definitions/') },
      })),
    ];
  }
  return out;
}

export class OasValidator {
  readonly routes: Route[] = [];
  readonly basePath: string;

  constructor(specPath: string) {
    const doc = parseYaml(readFileSync(specPath, 'utf8')) as {
      servers?: Array<{ url: string }>;
      paths: Record<string, Record<string, unknown>>;
      components?: { schemas?: Record<string, unknown> };
    };
    this.basePath = new URL(doc.servers?.[0]?.url ?? 'http://x/').pathname.replace(/\/+$/, '');
    const definitions = Object.fromEntries(Object.entries(doc.components?.schemas ?? {}).map(([name, sch]) => [name, oasToJsonSchema(sch)]));
    const ajv = new Ajv({ allErrors: true, strict: false, discriminator: false });
    addFormats(ajv);
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const method of ['get', 'post', 'put', 'delete', 'patch']) {
        const op = item[method] as
          | { operationId?: string; requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> }; responses?: Record<string, unknown> }
          | undefined;
        if (!op) continue;
        const params: string[] = [];
        const pattern = template
          .replace(/\/+$/, '')
          .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
          .replace(/\{([^}]+)\}/g, (_m, p: string) => {
            params.push(p);
            return '([^/]+)';
          });
        const schema = op.requestBody?.content?.['application/json']?.schema;
        const validate = schema ? ajv.compile({ ...(oasToJsonSchema(schema) as object), definitions }) : undefined;
        this.routes.push({
          method: method.toUpperCase(),
          template,
          operationId: op.operationId ?? `${method} ${template}`,
          regex: new RegExp(`^${pattern}/?$`),
          params,
          bodyRequired: !!op.requestBody?.required,
          validate,
          responses: Object.keys(op.responses ?? {}),
        });
      }
    }
  }

  /** The route for a request path (full path, server base included), or why none matches. */
  match(method: string, fullPath: string): RouteMatch | { error: string; status: number } {
    if (!fullPath.startsWith(this.basePath)) return { error: `path outside ${this.basePath}`, status: 404 };
    const rel = fullPath.slice(this.basePath.length) || '/';
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(rel);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      return { route, params: Object.fromEntries(route.params.map((p, i) => [p, decodeURIComponent(must(m[i + 1]))])) };
    }
    return pathMatched ? { error: `method ${method} not in the spec for ${rel}`, status: 405 } : { error: `no path ${rel} in the spec`, status: 404 };
  }

  /** Errors of a body against the route's schema ([] when valid). */
  check(route: Route, body: unknown): string[] {
    if (body === undefined) return route.bodyRequired ? ['request body is required'] : [];
    if (!route.validate) return [];
    if (route.validate(body)) return [];
    return (route.validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }
}
