/**
 * Lowers the scheduling priority of V8's own helper threads (`V8Worker`: concurrent and parallel garbage collection,
 * background compilation) below the event loop's. On a core the event loop shares with them (a process pinned to one
 * core, a one-CPU container, or every core busy with `WORKERS=auto`), the kernel otherwise shares the core equally
 * among every runnable thread: during a major GC's concurrent marking the helpers took the core from the event loop
 * for tens of milliseconds at a time, and every call's 20 ms tick waited (bench/README.md, "Late ticks at moderate
 * CPU"). At a higher niceness they run in the event loop's idle time instead, which is most of it.
 *
 * Linux only: there the niceness is per thread (`setpriority` on a thread id), and raising one's own is unprivileged.
 * Elsewhere, or when `/proc` cannot be read, nothing changes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority, platform, setPriority } from 'node:os';

/** Thread names of V8's platform workers (Node names them since v22). */
const V8_WORKER = /^V8Worker/;

/**
 * Set every V8 helper thread of this process to niceness `nice` (1–19; 0 = leave them). Call from the main thread at
 * start-up, after Node has created its platform (it has, before any user code runs). Returns how many threads were
 * changed.
 */
export function niceV8Workers(nice: number, procDir = '/proc/self/task'): number {
  if (nice <= 0 || platform() !== 'linux') return 0;
  let tids: string[];
  try {
    tids = readdirSync(procDir);
  } catch {
    return 0;
  }
  let changed = 0;
  for (const tid of tids) {
    try {
      if (!V8_WORKER.test(readFileSync(`${procDir}/${tid}/comm`, 'utf8'))) continue;
      // os.setPriority(pid) is setpriority(PRIO_PROCESS, pid): given a thread id, Linux applies it to that thread only.
      setPriority(Number(tid), nice);
      if (getPriority(Number(tid)) === nice) changed++;
    } catch {
      // the thread ended meanwhile, or the change was refused: leave it
    }
  }
  return changed;
}
