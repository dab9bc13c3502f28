/**
 * A small, bounded Server-Sent Events parser (the WHATWG `text/event-stream` format) for streamed chat completions:
 * `data:` lines (several join with "\n"), `event:` names, `:` comments ignored, events dispatched on a blank line,
 * CR, LF or CRLF line ends, chunks split anywhere. Hand-written rather than a dependency: it is ~60 lines and must
 * enforce our own bounds (a line or an event past `maxEventChars` is an error, not a memory leak).
 */

export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string;
  data: string;
}

export class SseError extends Error {
  override readonly name = 'SseError';
}

export class SseParser {
  private buf = '';
  private data: string[] = [];
  private dataChars = 0;
  private event = '';
  /** Drop a leading LF that belongs to a CRLF split across chunks. */
  private skipLf = false;

  /** @param maxEventChars largest line or event accepted (characters). */
  constructor(private readonly maxEventChars = 65536) {}

  /** Feed decoded text; returns the events completed by it. Throws {@link SseError} past the size bound. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.skipLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLf = false;
    this.buf += text;
    let start = 0;
    for (;;) {
      const cr = this.buf.indexOf('\r', start);
      const lf = this.buf.indexOf('\n', start);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) break;
      this.line(this.buf.slice(start, end), out);
      if (this.buf[end] === '\r') {
        if (end + 1 === this.buf.length) this.skipLf = true;
        else if (this.buf[end + 1] === '\n') {
          start = end + 2;
          continue;
        }
      }
      start = end + 1;
    }
    this.buf = this.buf.slice(start);
    if (this.buf.length > this.maxEventChars) throw new SseError(`SSE line longer than ${this.maxEventChars} characters`);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length) out.push({ event: this.event || 'message', data: this.data.join('\n') });
      this.data = [];
      this.dataChars = 0;
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.dataChars += value.length + 1;
      if (this.dataChars > this.maxEventChars) throw new SseError(`SSE event larger than ${this.maxEventChars} characters`);
      this.data.push(value);
    } else if (field === 'event') this.event = value;
    // id, retry and unknown fields are irrelevant to a one-shot completion stream.
  }
}
