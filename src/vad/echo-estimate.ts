/**
 * Echo delay and echo return loss from two energy envelopes (what the bot played, what came back from the caller), for
 * the {@link EchoGuard}. Pure arithmetic over the guard's rings into preallocated scratch: no allocation, no clock.
 *
 * The delay is the lag that maximises the Pearson correlation of the amplitude envelopes (square roots of 5 ms block
 * energies) over the window. Amplitudes rather than energies, so a few loud syllables do not decide alone; linear rather
 * than dB, so the caller's noise floor (which dominates a log envelope under a −40 dB echo) weighs little. The gain at
 * that lag is the least-squares fit of caller energy on reference energy: noise only pushes it up, which errs towards
 * calling a frame echo, and the caller's own speech never enters it (windows with caller speech are skipped).
 */

/** One estimation's result (the caller copies what it keeps). */
export interface EchoEstimate {
  /** Lag of the correlation peak, in blocks. */
  lagBlocks: number;
  /** Pearson correlation at that lag (−1…1). */
  rho: number;
  /** Least-squares power gain caller/reference at that lag (echo energy per unit of bot energy). */
  gain: number;
  /** Caller energy over bot energy in the whole window, whatever the lag (an upper bound of the echo's gain). */
  gainUpper: number;
}

/**
 * Estimate from the last `windowBlocks` blocks ending before block index `end`.
 * `ref` and `cal` are rings of block energies indexed by `index & mask`; `scratchA` holds ≥ windowBlocks values and
 * `scratchB` ≥ windowBlocks + maxLagBlocks. Writes into `out` and returns it.
 */
export function estimateEcho(
  ref: Float64Array, cal: Float64Array, mask: number, end: number, windowBlocks: number, maxLagBlocks: number,
  scratchA: Float64Array, scratchB: Float64Array, out: EchoEstimate,
): EchoEstimate {
  const w = windowBlocks;
  const l = maxLagBlocks;
  const a = scratchA;
  const b = scratchB;
  // a[i] = caller block (end − w + i); b[j] = reference block (end − w − l + j): lag d pairs a[i] with b[l − d + i].
  let sa = 0;
  let saa = 0;
  let calSum = 0;
  for (let i = 0; i < w; i++) {
    const e = cal[(end - w + i) & mask];
    calSum += e;
    const v = Math.sqrt(e);
    a[i] = v;
    sa += v;
    saa += v * v;
  }
  let refSum = 0;
  for (let j = 0; j < w + l; j++) {
    const e = ref[(end - w - l + j) & mask];
    if (j >= l) refSum += e;
    b[j] = Math.sqrt(e);
  }
  const varA = saa - (sa * sa) / w;
  // Sliding sums of the reference segment, starting at lag l (offset 0) and moving to lag 0 (offset l).
  let sb = 0;
  let sbb = 0;
  for (let i = 0; i < w; i++) {
    sb += b[i];
    sbb += b[i] * b[i];
  }
  let bestRho = -2;
  let bestLag = 0;
  for (let off = 0; off <= l; off++) {
    if (off > 0) {
      const gone = b[off - 1];
      const come = b[off + w - 1];
      sb += come - gone;
      sbb += come * come - gone * gone;
    }
    let sab = 0;
    for (let i = 0; i < w; i++) sab += a[i] * b[off + i];
    const varB = sbb - (sb * sb) / w;
    const den = varA * varB;
    const rho = den > 0 ? (sab - (sa * sb) / w) / Math.sqrt(den) : 0;
    if (rho > bestRho) {
      bestRho = rho;
      bestLag = l - off;
    }
  }
  let scr = 0;
  let srr = 0;
  const off = l - bestLag;
  for (let i = 0; i < w; i++) {
    const r = b[off + i] * b[off + i];
    scr += a[i] * a[i] * r;
    srr += r * r;
  }
  out.lagBlocks = bestLag;
  out.rho = bestRho;
  out.gain = srr > 0 ? scr / srr : 0;
  out.gainUpper = refSum > 0 ? calSum / refSum : 0;
  return out;
}
