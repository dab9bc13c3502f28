/**
 * How many worker processes `WORKERS=auto` means: the cores this process may use. `os.availableParallelism()` sees
 * the CPU affinity mask but not a cgroup CPU quota (a container limited to `--cpus=2` on a 16-core host still sees
 * 16), so the quota in `/sys/fs/cgroup/cpu.max` (cgroup v2: "<quota> <period>", or "max <period>" for none) caps it,
 * rounded up: a 1.5-CPU quota gets 2 workers, each throttled rather than one leaving half a core idle. cgroup v1
 * hosts are not read (cheap to add, rare now): there the answer is the affinity count.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPUs a cgroup v2 `cpu.max` line allows, or undefined for no quota or an unreadable line. */
export function cpusFromCpuMax(line: string): number | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
  if (!m) return undefined; // "max 100000": no quota
  const quota = Number(m[1]);
  const period = Number(m[2]);
  if (!(quota > 0 && period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/** Cores for `WORKERS=auto`: the affinity count, capped by the cgroup v2 CPU quota when there is one. */
export function autoWorkers(cores = availableParallelism(), cpuMaxPath = '/sys/fs/cgroup/cpu.max'): number {
  let quota: number | undefined;
  try {
    quota = cpusFromCpuMax(readFileSync(cpuMaxPath, 'utf8'));
  } catch {
    quota = undefined; // no cgroup v2 file (bare host, cgroup v1): the affinity count stands
  }
  return Math.max(1, quota === undefined ? cores : Math.min(cores, quota));
}
