/**
 * The start-up line for a person at a terminal: where the gateway listens and how to call it. The JSON log line
 * (`gateway listening`) stays on stdout for log parsers; this goes to stderr, and only when stderr is a terminal, so
 * a container's or a supervisor's log stream gets JSON only.
 */
export interface BannerInfo {
  /** The port actually bound (PORT=0 picks one). */
  port: number;
  /** HOST: `0.0.0.0`/`::` print as localhost. */
  host: string;
  answerUrl: string;
  asr: string;
  bot: string;
  tts: string;
  rate: number;
  workers?: number;
}

export function startBanner(i: BannerInfo): string {
  const host = i.host === '0.0.0.0' || i.host === '::' ? 'localhost' : i.host.includes(':') ? `[${i.host}]` : i.host;
  const url = `http://${host}:${i.port}`;
  const workers = i.workers && i.workers > 1 ? `, ${i.workers} workers` : '';
  return (
    `listening on ${url} (bot ${i.bot}, asr ${i.asr}, tts ${i.tts}, ${i.rate} Hz${workers})\n` +
    `call it with: npx vgw simulate --url ${url} --wav speech.wav   (a Vonage number: answer URL ${i.answerUrl})\n` +
    `stop with Ctrl-C: live calls drain first\n`
  );
}

/** Print {@link startBanner} on stderr when it is a terminal. */
export function printBanner(i: BannerInfo, stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY) stream.write(startBanner(i));
}
