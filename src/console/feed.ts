/**
 * One console client's Server-Sent Events stream. Bounded: an event is written only while the socket's unsent data is
 * under `maxBufferedBytes`; past it the event is dropped and counted, and once the socket drains the client gets a
 * fresh snapshot (so a slow browser catches up instead of the gateway queueing for it without bound).
 */
import type { ServerResponse } from 'node:http';

export interface FeedOptions {
  /** Unsent bytes past which events are dropped. */
  maxBufferedBytes: number;
  /** Builds the resync snapshot after drops (serialised once per resync). */
  snapshot: () => unknown;
  onClose: (feed: ConsoleFeed) => void;
}

export class ConsoleFeed {
  /** Events dropped because this client read too slowly. */
  dropped = 0;
  sent = 0;
  private stale = false;
  private closedFlag = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly o: FeedOptions,
  ) {}

  /** Send the headers and the first snapshot; wire close and drain. */
  start(): void {
    const res = this.res;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.socket?.setNoDelay(true);
    res.on('close', () => this.close());
    res.on('drain', () => {
      if (this.stale && !this.closedFlag) {
        this.stale = false;
        this.write('snapshot', JSON.stringify(this.o.snapshot()));
      }
    });
    res.write('retry: 2000\n\n');
    this.write('snapshot', JSON.stringify(this.o.snapshot()));
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Send one already-serialised event (serialised once for all clients), or drop and count it. */
  send(event: string, json: string): void {
    if (this.closedFlag) return;
    if (this.stale || this.res.writableLength > this.o.maxBufferedBytes) {
      this.stale = true;
      this.dropped++;
      return;
    }
    this.write(event, json);
  }

  /** An SSE comment: keeps proxies from timing the stream out. */
  heartbeat(): void {
    if (!this.closedFlag && this.res.writableLength <= this.o.maxBufferedBytes) this.res.write(': hb\n\n');
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (!this.res.writableEnded) this.res.end();
    this.o.onClose(this);
  }

  private write(event: string, json: string): void {
    this.sent++;
    this.res.write(`event: ${event}\ndata: ${json}\n\n`);
  }
}
