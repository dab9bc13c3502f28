/** A fixed-bucket histogram: O(1) record, no allocation; percentiles by scanning. Values in ms. */
export class Hist {
  private readonly counts: Uint32Array;
  private readonly resolutionMs: number;
  count = 0;
  sum = 0;
  max = 0;

  constructor(maxMs: number, resolutionMs: number) {
    this.resolutionMs = resolutionMs;
    this.counts = new Uint32Array(Math.ceil(maxMs / resolutionMs) + 1);
  }

  record(ms: number): void {
    const i = ms <= 0 ? 0 : Math.min(this.counts.length - 1, Math.floor(ms / this.resolutionMs));
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Merge serialised buckets from another process. */
  mergeArray(counts: number[], count: number, sum: number, max: number): void {
    for (let i = 0; i < counts.length && i < this.counts.length; i++) this.counts[i]! += counts[i]!;
    this.count += count;
    this.sum += sum;
    if (max > this.max) this.max = max;
  }

  percentile(p: number): number {
    if (!this.count) return 0;
    const target = Math.ceil((p / 100) * this.count);
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i]!;
      if (acc >= target) return Math.round((i + 0.5) * this.resolutionMs * 1000) / 1000;
    }
    return this.max;
  }

  toJSON(): { counts: number[]; count: number; sum: number; max: number } {
    return { counts: Array.from(this.counts), count: this.count, sum: this.sum, max: this.max };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
}
