/** What a test can see of the process's resources: libuv handles, open files, child processes, threads. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';

/** Active libuv resources by type (`Timeout`, `TCPSocketWrap`, `TCPServerWrap`, `ProcessWrap`, `PipeWrap`, `FSReqCallback`…). */
export function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Files this process holds open under `dir` (from /proc/self/fd). */
export function openFilesUnder(dir: string): string[] {
  const root = resolve(dir) + '/';
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(root)) out.push(target);
    } catch {
      // closed while listing
    }
  }
  return out;
}

/** Live child processes of this process (pids whose parent is us). */
export function childPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command (which may contain spaces) start after the last ')': state ppid …
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(name));
    } catch {
      // exited while listing
    }
  }
  return out;
}

/** OS threads of this process (worker threads each add at least one). */
export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}
