/**
 * The bot's call actions (transfer, dtmf, hangup) carried out over Vonage REST for one live call. Built once per
 * process (app.ts) when VONAGE_APPLICATION_ID is set, handed to every session through `SessionDeps.callControl`.
 *
 * Never throws into the call: every failure is logged and counted (`gateway_adapter_errors_total{stage="vonage"}`),
 * and the promise resolves `false`.
 */
import type { CallInfo } from '../call/call-info.js';
import type { Logger } from '../observability/logger.js';
import type { VonageClient } from './client.js';

/** NCCO `headers.uuid` of calls placed by `vgw call`: not a Vonage uuid (that one is made when the call is created). */
export const OUTBOUND_REF_PREFIX = 'outbound-';

/** Where failures are counted (the existing adapter-error counter, stage `vonage`). */
export interface CallControlCounter {
  inc(labels: { stage: string; code: string }): void;
}

/** The call's Vonage uuid from the handshake headers (not a `vgw call` reference). */
function vonageUuid(call: CallInfo): string | undefined {
  const u = call.metadata.uuid;
  return typeof u === 'string' && u && !u.startsWith(OUTBOUND_REF_PREFIX) ? u : undefined;
}

interface Target {
  uuid: string | undefined;
  apiUrl: string;
}

export class CallControl {
  /** Per call: its Vonage uuid and validated REST base URL, resolved (and warned about) once. */
  private readonly targets = new WeakMap<CallInfo, Target>();

  constructor(
    readonly client: VonageClient,
    private readonly errors: CallControlCounter,
  ) {}

  /** Whether actions can be carried out for this call at all: it has a Vonage call uuid. */
  canControl(call: CallInfo): boolean {
    return vonageUuid(call) !== undefined;
  }

  /** `PUT /v1/calls/{uuid}` transfer to `ncco`. */
  transfer(call: CallInfo, ncco: readonly object[], log: Logger): Promise<boolean> {
    return this.exec(call, 'transfer', log, (t) => this.client.transfer(t.uuid as string, ncco, t), { actions: Array.isArray(ncco) ? ncco.length : 0 });
  }

  /** `PUT /v1/calls/{uuid}/dtmf`. */
  dtmf(call: CallInfo, digits: string, log: Logger): Promise<boolean> {
    return this.exec(call, 'dtmf', log, (t) => this.client.sendDtmf(t.uuid as string, digits, t), { digits });
  }

  /** `PUT /v1/calls/{uuid}` hangup: ends the whole call, not only our WebSocket leg. */
  hangup(call: CallInfo, log: Logger): Promise<boolean> {
    return this.exec(call, 'hangup', log, (t) => this.client.hangup(t.uuid as string, t), {});
  }

  private target(call: CallInfo, log: Logger): Target {
    let t = this.targets.get(call);
    if (t) return t;
    const uuid = vonageUuid(call);
    const r = this.client.resolve(call.metadata.region_url);
    if (r.rejected) log.warn({ reason: r.rejected, apiUrl: r.apiUrl }, 'region_url ignored: call control uses the default Vonage host');
    t = { uuid, apiUrl: r.apiUrl };
    this.targets.set(call, t);
    return t;
  }

  private async exec(call: CallInfo, op: string, log: Logger, fn: (t: Target) => Promise<void>, detail: Record<string, unknown>): Promise<boolean> {
    const t = this.target(call, log);
    if (!t.uuid) {
      log.warn({ action: op }, 'bot action needs the Vonage call uuid (absent from the handshake headers): ignored');
      this.errors.inc({ stage: 'vonage', code: 'ACTION_UNSUPPORTED' });
      return false;
    }
    try {
      await fn(t);
      log.info({ action: op, apiUrl: t.apiUrl, ...detail }, `vonage ${op} done`);
      return true;
    } catch (err) {
      const e = err as { code?: string; status?: number; message?: string };
      log.error(
        { action: op, apiUrl: t.apiUrl, code: e.code ?? 'VONAGE_API_FAILED', status: e.status },
        `vonage ${op} failed: ${String(e.message ?? err).slice(0, 300)}`,
      );
      this.errors.inc({ stage: 'vonage', code: e.code ?? 'VONAGE_API_FAILED' });
      return false;
    }
  }
}
