/**
 * A budget for per-call child processes (the offline recogniser): at most `maxProcesses` exist at once, and at most
 * `maxStarting` of them are in their costly start-up (model loading) at once; the others wait their turn in a FIFO
 * queue, which the budget bounds (a queued start holds a slot). A request past the budget is refused and counted.
 *
 * A slot is held from {@link ProcessBudget.reserve} until the holder reports the process gone
 * ({@link BudgetTicket.exited}) or gives up before it was launched ({@link BudgetTicket.cancel}): not when the call
 * closes, since a process may linger after it was asked to stop.
 *
 * No timers, no I/O: the caller launches the process and reports what it sees.
 */

/** Plain counters, read at scrape time (`gateway_local_asr_processes`, `gateway_local_asr_over_budget_total`). */
export interface ProcessBudgetStats {
  /** Processes launched and not yet exited (starting or ready). */
  running: number;
  /** Of those, still in start-up. */
  starting: number;
  /** Accepted requests waiting for a start-up slot (they hold a slot of the budget). */
  startsQueued: number;
  /** Requests refused because the budget was full (total since start). */
  overBudget: number;
}

/** One accepted request. Every method is idempotent and safe in any state. */
export interface BudgetTicket {
  /** Start-up finished (the process is ready): frees the start-up slot for the next queued request. */
  started(): void;
  /** The process is gone (or could not be launched): frees the slot. */
  exited(): void;
  /** Give up: a queued request leaves the queue; a launched one is treated as {@link exited}. */
  cancel(): void;
}

type State = 'queued' | 'starting' | 'running' | 'done';

class Ticket implements BudgetTicket {
  state: State = 'queued';
  constructor(
    private readonly budget: ProcessBudget,
    readonly launch: (t: BudgetTicket) => void,
  ) {}
  started(): void {
    this.budget.transition(this, 'running');
  }
  exited(): void {
    this.budget.transition(this, 'done');
  }
  cancel(): void {
    this.budget.transition(this, 'done');
  }
}

export class ProcessBudget {
  readonly stats: ProcessBudgetStats = { running: 0, starting: 0, startsQueued: 0, overBudget: 0 };
  private readonly queue: Ticket[] = [];

  /**
   * @param maxProcesses processes allowed at once (0: every request is refused)
   * @param maxStarting processes allowed in start-up at once (at least 1)
   */
  constructor(
    readonly maxProcesses: number,
    readonly maxStarting: number,
  ) {
    if (maxStarting < 1) throw new RangeError('maxStarting must be at least 1');
  }

  /** Slots held: processes running plus requests queued. */
  get held(): number {
    return this.stats.running + this.stats.startsQueued;
  }

  /**
   * Take a slot, or refuse (undefined, counted in `overBudget`). `launch` is called with the ticket once a start-up
   * slot is free: at once (before this returns) or later, from another ticket's `started`/`exited`/`cancel`. It
   * should not throw; if it does, the ticket is treated as exited.
   */
  reserve(launch: (t: BudgetTicket) => void): BudgetTicket | undefined {
    if (this.held >= this.maxProcesses) {
      this.stats.overBudget++;
      return undefined;
    }
    const t = new Ticket(this, launch);
    this.queue.push(t);
    this.stats.startsQueued++;
    this.pump();
    return t;
  }

  /** @internal Move a ticket on (only forward: queued → starting → running → done). */
  transition(t: Ticket, to: 'running' | 'done'): void {
    const from = t.state;
    if (from === 'done' || from === to) return;
    if (to === 'running' && from !== 'starting') return; // `started` before launch means nothing
    t.state = to;
    const s = this.stats;
    if (from === 'queued') {
      s.startsQueued--;
      const i = this.queue.indexOf(t);
      if (i >= 0) this.queue.splice(i, 1);
    } else {
      if (from === 'starting') s.starting--;
      if (to === 'done') s.running--;
    }
    this.pump();
  }

  private pump(): void {
    const s = this.stats;
    while (s.starting < this.maxStarting && this.queue.length > 0) {
      const t = this.queue.shift() as Ticket;
      s.startsQueued--;
      s.starting++;
      s.running++;
      t.state = 'starting';
      try {
        t.launch(t);
      } catch {
        this.transition(t, 'done');
      }
    }
  }
}
