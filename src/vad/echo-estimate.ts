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

/** Preallocated work arrays for {@link estimateEcho} (one set per guard). */
export interface EchoScratch {
  a: Float64Array;
  b: Float64Array;
  a2: Float64Array;
  b2: Float64Array;
  /** Prefix sums of b2 and of its squares (length b2 + 1): the coarse search's window sums in O(1) per lag. */
  p2: Float64Array;
  q2: Float64Array;
}

export function echoScratch(windowBlocks: number, maxLagBlocks: number): EchoScratch {
  const b = windowBlocks + maxLagBlocks;
  const nb2 = (b >> 1) + 1;
  return {
    a: new Float64Array(windowBlocks),
    b: new Float64Array(b),
    a2: new Float64Array(windowBlocks >> 1),
    b2: new Float64Array(nb2),
    p2: new Float64Array(nb2 + 1),
    q2: new Float64Array(nb2 + 1),
  };
}

/**
 * Mean caller energy per block (mean square per sample) below which the return path is silent (−80 dBFS): no echo can
 * be estimated from it, and the correlation is skipped (its result would be noise).
 */
export const SILENT_RETURN = 32768 * 32768 * 1e-8;

/**
 * A variance this small relative to the mean square is rounding noise (a steady tone's envelope, a constant floor):
 * such an envelope has no shape to correlate, and its "correlation" is 0.
 */
const FLAT = 1e-9;

/** Pearson correlation of a[0..n) with b[off..off+n). */
function pearson(a: Float64Array, b: Float64Array, n: number, off: number): number {
  let sa = 0,
    sb = 0,
    saa = 0,
    sbb = 0,
    sab = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[off + i]!;
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
  }
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return va > FLAT * saa && vb > FLAT * sbb ? (sab - (sa * sb) / n) / Math.sqrt(va * vb) : 0;
}

/**
 * Estimate from the last `windowBlocks` (even) blocks ending before block index `end`. `ref` and `cal` are rings of
 * block energies indexed by `index & mask`. Coarse to fine: every even lag on 10 ms envelopes (pairs of blocks
 * summed), then the three 5 ms lags around the best: about a quarter of the arithmetic of a full 5 ms search. In the
 * coarse search the caller's sums are fixed and the reference's come from prefix sums, so each lag costs one
 * multiply-add per pair. A silent return path ({@link SILENT_RETURN}) skips the search (rho 0, gain 0).
 * Writes into `out` and returns it.
 */
export function estimateEcho(
  ref: ArrayLike<number>,
  cal: ArrayLike<number>,
  mask: number,
  end: number,
  windowBlocks: number,
  maxLagBlocks: number,
  scratch: EchoScratch,
  out: EchoEstimate,
): EchoEstimate {
  const w = windowBlocks;
  const l = maxLagBlocks;
  const { a, b, a2, b2, p2, q2 } = scratch;
  // a[i] = caller block (end − w + i); b[j] = reference block (end − w − l + j): lag d pairs a[i] with b[l − d + i].
  let calSum = 0;
  for (let i = 0; i < w; i++) calSum += cal[(end - w + i) & mask]!;
  let refSum = 0;
  for (let j = l; j < w + l; j++) refSum += ref[(end - w - l + j) & mask]!;
  out.gainUpper = refSum > 0 ? calSum / refSum : 0;
  if (calSum < SILENT_RETURN * w) {
    out.lagBlocks = 0;
    out.rho = 0;
    out.gain = 0;
    return out;
  }
  for (let i = 0; i < w; i++) a[i] = Math.sqrt(cal[(end - w + i) & mask]!);
  for (let j = 0; j < w + l; j++) b[j] = Math.sqrt(ref[(end - w - l + j) & mask]!);
  // Coarse: 10 ms envelopes aligned on the window's end; reference pairs start at the parity of l so even lags align.
  const w2 = w >> 1;
  const p = l & 1;
  const nb2 = (w + l - p) >> 1;
  let sa = 0;
  let saa = 0;
  for (let i = 0; i < w2; i++) {
    const x = a[2 * i]! + a[2 * i + 1]!;
    a2[i] = x;
    sa += x;
    saa += x * x;
  }
  const va = saa - (sa * sa) / w2;
  p2[0] = 0;
  q2[0] = 0;
  for (let j = 0; j < nb2; j++) {
    const y = b[p + 2 * j]! + b[p + 2 * j + 1]!;
    b2[j] = y;
    p2[j + 1] = p2[j]! + y;
    q2[j + 1] = q2[j]! + y * y;
  }
  let best = -2;
  let bestLag = 0;
  for (let d = 0; d <= l - p; d += 2) {
    const off = (l - p - d) >> 1;
    let sab = 0;
    for (let i = 0; i < w2; i++) sab += a2[i]! * b2[off + i]!;
    const sb = p2[off + w2]! - p2[off]!;
    const sbb = q2[off + w2]! - q2[off]!;
    const vb = sbb - (sb * sb) / w2;
    const rho = va > FLAT * saa && vb > FLAT * sbb ? (sab - (sa * sb) / w2) / Math.sqrt(va * vb) : 0;
    if (rho > best) {
      best = rho;
      bestLag = d;
    }
  }
  // Fine: the 5 ms lags next to the coarse peak.
  best = -2;
  const coarse = bestLag;
  for (let d = coarse - 1; d <= coarse + 1; d++) {
    if (d < 0 || d > l) continue;
    const rho = pearson(a, b, w, l - d);
    if (rho > best) {
      best = rho;
      bestLag = d;
    }
  }
  let scr = 0;
  let srr = 0;
  const off = l - bestLag;
  for (let i = 0; i < w; i++) {
    const r = b[off + i]! * b[off + i]!;
    scr += a[i]! * a[i]! * r;
    srr += r * r;
  }
  out.lagBlocks = bestLag;
  out.rho = best;
  out.gain = srr > 0 ? scr / srr : 0;
  return out;
}
