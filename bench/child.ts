/** Child processes of the benchmarks: targets pinned to a core (taskset, when present) and their IPC requests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Msg = Record<string, unknown> & { cmd: string };

export const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/**
 * The Node flags `npm start` (and the Docker image) run the gateway with, read from package.json: a benchmark target,
 * the gateway or its baseline, runs with the same (a fair baseline gets the same).
 */
export const START_FLAGS: string[] = (
  JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: { start: string } }
).scripts.start
  .split(' ')
  .filter((a) => a.startsWith('--'));
/** Node flags of the targets: {@link START_FLAGS}, then `BENCH_TARGET_FLAGS` (e.g. `--cpu-prof`, `--trace-gc`), space-separated. */
export const TARGET_FLAGS: string[] = [...START_FLAGS, ...(process.env.BENCH_TARGET_FLAGS ?? '').split(' ').filter(Boolean)];

/** Run a compiled bench script (relative to this file) with IPC, pinned to `core` when taskset exists. */
export function spawnPinned(script: string, core: number, flags: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const file = fileURLToPath(new URL(script, import.meta.url));
  const cmd = HAS_TASKSET ? 'taskset' : process.execPath;
  const argv = HAS_TASKSET ? ['-c', String(core), process.execPath, ...flags, file] : [...flags, file];
  return spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
}

/** Send `msg` (if any) and wait for the child's message whose `cmd` is `reply`. */
export function request(child: ChildProcess, msg: Msg | undefined, reply: string, timeoutMs = 60000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${reply} from child`)), timeoutMs);
    const on = (m: Msg) => {
      if (m.cmd !== reply) return;
      clearTimeout(t);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    if (msg) child.send(msg);
  });
}
