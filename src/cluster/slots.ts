/**
 * The gateway-wide `MAX_CALLS` ledger, held by the cluster primary: which worker holds how many call slots.
 *
 * Why a primary-held counter and not `MAX_CALLS / WORKERS` per worker: the round-robin scheduler spreads connections,
 * not calls (a worker's calls end at different times, a replaced worker starts empty), so a per-worker share would
 * refuse calls while another worker has room, and `MAX_CALLS=1` cannot be split at all. The price is one IPC round
 * trip when a leg opens (sub-millisecond; never per frame). A worker that dies gives its slots back at once.
 */
export class CallSlots {
  private readonly byWorker = new Map<number, number>();
  private held = 0;

  constructor(private readonly max: number) {}

  /** Slots held now, over every worker. */
  get total(): number {
    return this.held;
  }

  /** Take one slot for `worker`; false when the gateway is full. */
  take(worker: number): boolean {
    if (this.held >= this.max) return false;
    this.byWorker.set(worker, (this.byWorker.get(worker) ?? 0) + 1);
    this.held++;
    return true;
  }

  /** Give one of `worker`'s slots back (a release it does not hold is ignored). */
  release(worker: number): void {
    const n = this.byWorker.get(worker) ?? 0;
    if (n === 0) return;
    this.byWorker.set(worker, n - 1);
    this.held--;
  }

  /** `worker` is gone: every slot it held is free. Returns how many (its calls, lost with it). */
  dropWorker(worker: number): number {
    const n = this.byWorker.get(worker) ?? 0;
    this.byWorker.delete(worker);
    this.held -= n;
    return n;
  }
}
