/**
 * Vonage Voice REST call control (hangup, transfer, DTMF, talk, outbound calls), built on `@vonage/voice` with an RS256
 * JWT from `@vonage/jwt` (claims `application_id`, `iat`, `jti`, `exp`; a fresh token per request).
 *
 * Every request has a timeout; 429/503/504 answers (and refused connections, where nothing was sent) are retried a
 * bounded number of times with backoff (honouring `Retry-After`, capped); every failure ends as a
 * {@link VonageApiError} (`VONAGE_API_FAILED`). The SDK is imported lazily by {@link createVonageClient}.
 *
 * Secrets: the key is never logged, and SDK errors (which carry the request, Authorization header included) are
 * reduced to status and a short body excerpt before they leave this file.
 */
import type { Voice } from '@vonage/voice';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { loadPrivateKeyPem } from './private-key.js';
import { resolveApiUrl, type ResolvedApiUrl } from './region.js';

export type VonageOp = 'hangup' | 'transfer' | 'dtmf' | 'talk' | 'createCall';

/** One finished HTTP attempt, for metrics (`status` 0 = no HTTP answer: timeout or network error). */
export interface VonageRequestEvent {
  op: VonageOp;
  status: number;
  durationMs: number;
  /** 0 for the first attempt. */
  attempt: number;
  apiUrl: string;
}

export interface VonageClientOptions {
  applicationId: string;
  /** PEM text or a path to a PEM file. */
  privateKey: string;
  /** Default base URL, e.g. https://api.nexmo.com. */
  apiUrl: string;
  timeoutMs: number;
  /** Retries after the first attempt on 429/503/504 or a refused connection. */
  retries: number;
  logger?: Logger;
  /** Called after every HTTP attempt (metrics hook). Must not throw. */
  onRequest?: (e: VonageRequestEvent) => void;
}

/** Where to send one request: a call's base URL (already validated with {@link VonageClient.resolve}). */
export interface RequestTarget {
  apiUrl?: string;
}

/** `POST /v1/calls` with an NCCO. `to`/`from` are phone numbers (E.164 digits); no `from` = a random application number. */
export interface CreateCallRequest {
  to: string;
  from?: string;
  /** The call's NCCO inline, or … */
  ncco?: ReadonlyArray<Record<string, unknown>>;
  /** … the answer URL Vonage fetches it from (GET) once the callee answers, with the call's real uuid. */
  answerUrl?: string[];
  eventUrl: string[];
  /** Vonage advanced machine detection (`advanced_machine_detection`); results come to the event webhook. */
  advancedMachineDetection?: { behavior: 'continue' | 'hangup'; mode: 'default' | 'detect' | 'detect_beep'; beepTimeout?: number };
}

export interface CreatedCall {
  uuid: string;
  status: string;
  direction: string;
  conversationUuid: string;
}

/** A REST request that failed for good. `status` is Vonage's HTTP status, 0 when none came (timeout, network). */
export class VonageApiError extends GatewayError {
  readonly op: VonageOp;
  readonly status: number;
  constructor(op: VonageOp, status: number, message: string) {
    super('VONAGE_API_FAILED', `vonage ${op}: ${message}`, { httpStatus: 502 });
    this.op = op;
    this.status = status;
  }
}

const RETRY_STATUSES = new Set([429, 503, 504]);
const MAX_BACKOFF_MS = 2000;
/** Distinct API hosts kept with an SDK instance (regions are few; the bound stops growth on odd input). */
const MAX_HOSTS = 16;

type VoiceCtor = new (credentials: { applicationId: string; privateKey: string }, options: { apiHost: string; timeout: number }) => Voice;

export class VonageClient {
  private readonly voices = new Map<string, Voice>();

  private constructor(
    private readonly opts: VonageClientOptions,
    private readonly pem: string,
    private readonly VoiceClass: VoiceCtor,
  ) {}

  /** Build a client: reads and checks the key, loads the SDK, signs one token to prove the key works. */
  static async create(opts: VonageClientOptions): Promise<VonageClient> {
    if (!opts.applicationId || !opts.privateKey)
      throw new GatewayError('VONAGE_NOT_CONFIGURED', 'VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY are required for Vonage call control');
    const pem = loadPrivateKeyPem(opts.privateKey);
    const [{ Voice: VoiceClass }, { tokenGenerate }] = await Promise.all([import('@vonage/voice'), import('@vonage/jwt')]);
    try {
      tokenGenerate(opts.applicationId, pem);
    } catch (err) {
      throw new GatewayError('VONAGE_NOT_CONFIGURED', `VONAGE_PRIVATE_KEY cannot sign an RS256 JWT (${(err as Error).name})`);
    }
    return new VonageClient(opts, pem, VoiceClass);
  }

  get defaultApiUrl(): string {
    return new URL(this.opts.apiUrl).origin;
  }

  /** The base URL for a call given its (untrusted) `region_url`; see {@link resolveApiUrl}. */
  resolve(regionUrl: unknown): ResolvedApiUrl {
    return resolveApiUrl(regionUrl, this.opts.apiUrl);
  }

  /** `PUT /v1/calls/{uuid}` `{action:"hangup"}` (204). */
  hangup(uuid: string, target: RequestTarget = {}): Promise<void> {
    return this.run('hangup', target, (v) => v.hangupCall(checkUuid('hangup', uuid)));
  }

  /** `PUT /v1/calls/{uuid}` transfer to an inline NCCO (204). The NCCO is sent as given. */
  transfer(uuid: string, ncco: ReadonlyArray<object>, target: RequestTarget = {}): Promise<void> {
    if (!Array.isArray(ncco) || ncco.length === 0) return Promise.reject(new VonageApiError('transfer', 0, 'the NCCO must be a non-empty array'));
    return this.run('transfer', target, (v) => v.transferCallWithNCCO(checkUuid('transfer', uuid), ncco as never));
  }

  /** `PUT /v1/calls/{uuid}/dtmf` (200). Digits: 0-9 * # and `p` (pause). */
  async sendDtmf(uuid: string, digits: string, target: RequestTarget = {}): Promise<void> {
    if (typeof digits !== 'string' || !/^[0-9*#p]{1,64}$/.test(digits)) throw new VonageApiError('dtmf', 0, 'digits must be 1-64 of 0-9 * # p');
    await this.run('dtmf', target, (v) => v.playDTMF(checkUuid('dtmf', uuid), digits));
  }

  /** `PUT /v1/calls/{uuid}/talk` (200): Vonage speaks `text` into the call. */
  async talk(uuid: string, text: string, language?: string, target: RequestTarget = {}): Promise<void> {
    if (typeof text !== 'string' || !text || text.length > 1500) throw new VonageApiError('talk', 0, 'text must be 1-1500 characters');
    await this.run('talk', target, (v) => v.playTTS(checkUuid('talk', uuid), { text, ...(language ? { language } : {}) } as never));
  }

  /** `POST /v1/calls` with an inline NCCO or an answer URL (201). */
  async createCall(req: CreateCallRequest, target: RequestTarget = {}): Promise<CreatedCall> {
    const call: Record<string, unknown> = {
      to: [{ type: 'phone', number: req.to }],
      eventUrl: req.eventUrl,
    };
    if (req.answerUrl) {
      call.answerUrl = req.answerUrl;
      call.answerMethod = 'GET';
    } else call.ncco = req.ncco;
    if (req.advancedMachineDetection) call.advancedMachineDetection = { ...req.advancedMachineDetection }; // snake-cased by the SDK
    if (req.from) call.from = { type: 'phone', number: req.from };
    else call.randomFromNumber = true;
    const res = (await this.run('createCall', target, (v) => v.createOutboundCall(call as never))) as unknown as Record<string, unknown>;
    const uuid = typeof res?.uuid === 'string' ? res.uuid : '';
    if (!uuid) throw new VonageApiError('createCall', 201, 'answer has no call uuid');
    return {
      uuid,
      status: typeof res.status === 'string' ? res.status : '',
      direction: typeof res.direction === 'string' ? res.direction : '',
      conversationUuid: [res.conversationUUID, res.conversation_uuid].find((v): v is string => typeof v === 'string') ?? '',
    };
  }

  private voice(apiUrl: string): Voice {
    let v = this.voices.get(apiUrl);
    if (!v) {
      if (this.voices.size >= MAX_HOSTS) this.voices.delete(this.voices.keys().next().value as string);
      v = new this.VoiceClass({ applicationId: this.opts.applicationId, privateKey: this.pem }, { apiHost: apiUrl, timeout: this.opts.timeoutMs });
      this.voices.set(apiUrl, v);
    }
    return v;
  }

  private async run<T>(op: VonageOp, target: RequestTarget, call: (v: Voice) => Promise<T>): Promise<T> {
    const apiUrl = target.apiUrl ?? this.defaultApiUrl;
    const v = this.voice(apiUrl);
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      let status: number;
      try {
        const out = await call(v);
        status = op === 'createCall' ? 201 : op === 'hangup' || op === 'transfer' ? 204 : 200;
        this.report(op, status, t0, attempt, apiUrl);
        return out;
      } catch (err) {
        if (err instanceof VonageApiError) throw err;
        const failure = await describe(err);
        status = failure.status;
        this.report(op, status, t0, attempt, apiUrl);
        const retryable = RETRY_STATUSES.has(status) || failure.refused;
        if (!retryable || attempt >= this.opts.retries) {
          throw new VonageApiError(op, status, `${failure.text}${attempt ? ` after ${attempt + 1} attempts` : ''}`);
        }
        const delayMs = Math.min(MAX_BACKOFF_MS, failure.retryAfterMs ?? 100 * 2 ** attempt * (0.5 + Math.random()));
        this.opts.logger?.warn({ op, status, attempt, delayMs: Math.round(delayMs) }, `vonage ${op}: ${failure.text}; retrying`);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  private report(op: VonageOp, status: number, t0: number, attempt: number, apiUrl: string): void {
    if (!this.opts.onRequest) return;
    try {
      this.opts.onRequest({ op, status, durationMs: performance.now() - t0, attempt, apiUrl });
    } catch {
      // a metrics hook must never break call control
    }
  }
}

/** A Vonage call uuid: an RFC 4122 UUID, 8-4-4-4-12 hex digits (e.g. `63f61863-4a51-4f6b-86e1-46edebcf9356`). */
export const CALL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Call uuids go into a URL path: only the uuid format passes, so nothing (`.`, `..`, `/`, `%2F`, …) can change the
 * path the signed request goes to; refused before any request is built.
 */
function checkUuid(op: VonageOp, uuid: string): string {
  if (typeof uuid !== 'string' || !CALL_UUID.test(uuid)) throw new VonageApiError(op, 0, 'call uuid must be a UUID (8-4-4-4-12 hex digits)');
  return uuid;
}

/** Status, a short text (never the request: it holds the JWT), and retry hints of an SDK error. */
async function describe(err: unknown): Promise<{ status: number; text: string; refused: boolean; retryAfterMs?: number }> {
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    response?: { status?: number; headers?: { get(n: string): string | null }; text?: () => Promise<string> };
  };
  if (e?.response && typeof e.response.status === 'number') {
    const status = e.response.status;
    let body = '';
    try {
      body = ((await e.response.text?.()) ?? '').replace(/\s+/g, ' ').slice(0, 200);
    } catch {
      // body unreadable: the status says enough
    }
    const ra = Number(e.response.headers?.get('retry-after'));
    return { status, text: `HTTP ${status}${body ? ` ${body}` : ''}`, refused: false, retryAfterMs: Number.isFinite(ra) && ra >= 0 ? ra * 1000 : undefined };
  }
  if (e?.name === 'AbortError') return { status: 0, text: 'timed out', refused: false };
  const code = e?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  return { status: 0, text: `request failed (${code ?? e?.name ?? 'error'})`, refused: code === 'ECONNREFUSED' };
}

/** The client for a config, or undefined when VONAGE_APPLICATION_ID is empty (call control off). */
export async function createVonageClient(
  config: { vonageApplicationId: string; vonagePrivateKey: string; vonageApiUrl: string; vonageApiTimeoutMs: number; vonageApiRetries: number },
  logger?: Logger,
  onRequest?: (e: VonageRequestEvent) => void,
): Promise<VonageClient | undefined> {
  if (!config.vonageApplicationId) return undefined;
  return VonageClient.create({
    applicationId: config.vonageApplicationId,
    privateKey: config.vonagePrivateKey,
    apiUrl: config.vonageApiUrl,
    timeoutMs: config.vonageApiTimeoutMs,
    retries: config.vonageApiRetries,
    logger,
    onRequest,
  });
}
