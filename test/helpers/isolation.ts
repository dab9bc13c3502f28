/**
 * Two live calls on one real gateway for the isolation tests: a bystander and the call given the faulty adapter
 * (the fixtures misbehave only for the call whose uuid is {@link FAULTY}). Both legs stream like Vonage (a frame every
 * 20 ms, always); the bystander's bot plays a long tone, so its frames must keep coming while the other call fails.
 */
import type { Test } from 'tap';
import { until, type TestGateway } from './gateway.js';
import { ContinuousCaller, openRawLeg, type RawLeg } from './raw-leg.js';

/** Real UUIDs: call control refuses anything else before building a REST path. */
export const FAULTY = 'aaaaaaaa-0000-4000-8000-00000000fa17';
export const BYSTANDER = 'bbbbbbbb-0000-4000-8000-0000000b7575';
export const FRAME_BYTES = 640;

export interface LiveCall {
  leg: RawLeg;
  caller: ContinuousCaller;
}

export async function openCall(t: Test, g: TestGateway, uuid: string): Promise<LiveCall> {
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid });
  const caller = new ContinuousCaller(leg.ws, FRAME_BYTES);
  caller.start();
  t.teardown(() => {
    caller.stop();
    leg.ws.terminate();
  });
  return { leg, caller };
}

/** The bystander and the faulty call; resolves once the bystander's audio is flowing. */
export async function twoCalls(t: Test, g: TestGateway): Promise<{ bystander: LiveCall; faulty: LiveCall }> {
  const bystander = await openCall(t, g, BYSTANDER);
  await until(() => bystander.leg.binary.length >= 10, 10000, 'the bystander hears its audio');
  const faulty = await openCall(t, g, FAULTY);
  return { bystander, faulty };
}

/** The process is up and serving, and the bystander's frames keep arriving, each exactly one frame. */
export async function bystanderUnharmed(t: Test, g: TestGateway, bystander: LiveCall): Promise<void> {
  const n0 = bystander.leg.binary.length;
  await until(() => bystander.leg.binary.length >= n0 + 25, 5000, 'more bystander frames');
  t.ok(bystander.leg.binary.length >= n0 + 25, `the bystander's audio keeps flowing (${n0} → ${bystander.leg.binary.length} frames)`);
  t.ok(
    bystander.leg.binary.every((f) => f.length === FRAME_BYTES),
    'every bystander frame is exactly 20 ms',
  );
  t.equal(bystander.leg.ws.readyState, bystander.leg.ws.OPEN, 'the bystander call is up');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'the process serves /healthz');
}

/** Value of `name{…}` whose labels include every one of `labels` (any label order), or 0. */
export function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.split(',').includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

export const press = (leg: RawLeg, digit: string): void => leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit, duration: 120 }));
