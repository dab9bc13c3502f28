/** Child processes of the benchmarks: targets pinned to a core (taskset, when present) and their IPC requests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type Msg = Record<string, unknown> & { cmd: string };

export const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Run a compiled bench script (relative to this file) with IPC, pinned to `core` when taskset exists. */
export function spawnPinned(script: string, core: number, flags: string[] = [], env: NodeJS.ProcessEnv = process.env): ChildProcess {
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
