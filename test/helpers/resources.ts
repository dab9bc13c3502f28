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

/** One process of this process's tree, from /proc/<pid>/stat. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The command name as the kernel keeps it (at most 15 characters: `pocketsphinx_co`). */
  comm: string;
  /** CPU niceness. */
  nice: number;
  /** Resident set size in bytes. */
  rssBytes: number;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    // Fields after the command: state(0) ppid(1) … nice(16) … rss in pages(21).
    return { pid, ppid: Number(f[1]), comm: stat.slice(stat.indexOf('(') + 1, close), nice: Number(f[16]), rssBytes: Number(f[21]) * 4096 };
  } catch {
    return undefined; // exited while listing
  }
}

/** Every live descendant of `root` (children, grandchildren, …), not `root` itself. */
export function descendants(root = process.pid): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) all.push(p);
  }
  const inTree = new Set([root]);
  const out: ProcInfo[] = [];
  // Parents may be listed after their children: repeat until nothing is added.
  for (let added = true; added;) {
    added = false;
    for (const p of all) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        out.push(p);
        added = true;
      }
    }
  }
  return out;
}

/** Live descendants of this process whose command name starts with `comm` (e.g. `pocketsphinx`). */
export function descendantsNamed(comm: string, root = process.pid): ProcInfo[] {
  return descendants(root).filter((p) => p.comm.startsWith(comm.slice(0, 15)));
}

/** Proportional set size of a process in bytes (shared pages split between their users), or 0 if unreadable. */
export function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
