/** A gateway (or anything that starts one: npm, script) run as a child process, watched until it listens. */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Watched {
  /** Everything the child wrote so far, stdout and stderr interleaved. */
  out(): string;
  /** The port of the first `gateway listening` log line; rejects when the child exits first. */
  port: Promise<number>;
  /** The exit code. */
  exited: Promise<number | null>;
  /** Resolves when the output matches `re`. */
  until(re: RegExp): Promise<void>;
}

export function watchGateway(p: ChildProcess): Watched {
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const port = new Promise<number>((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d.toString();
      const m = /"msg":"gateway listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
      for (const w of waiters.splice(0))
        if (w.re.test(out)) w.resolve();
        else waiters.push(w);
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
    void exited.then(() => reject(new Error(`exited before listening: ${out}`)));
  });
  const until = (re: RegExp) => (re.test(out) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ re, resolve })));
  return { out: () => out, port, exited, until };
}

/** A TCP port that was free a moment ago (nothing listens there now). */
export function freePort(): Promise<number> {
  return new Promise((r) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => r(p));
    });
  });
}
