// Small SVG charts: points over the last minutes (turn latency per reply, pacing lateness per second).
// Drawn at the SVG's own pixel size (no scaling: the chart fills its panel at any width, text stays legible), with
// y-axis ticks at round steps (1, 2 or 5 × 10^k).
const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * Round y-axis ticks for values up to `max` (> 0): a step of 1, 2 or 5 × 10^k giving at most `most` intervals, and the
 * axis top (a multiple of the step, ≥ max). `niceTicks(697)` → step 200, top 800, ticks 0 200 400 600 800.
 */
export function niceTicks(max, most = 4) {
  const m = max > 0 && Number.isFinite(max) ? max : 1;
  const raw = m / most;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw - 1e-12) ?? 10 * mag;
  const top = Math.ceil(m / step - 1e-9) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { step, top, ticks };
}

/** A tick label: whole numbers as they are, 1000 and up as 1k, fractions with the digits the step needs. */
export function tickLabel(v, step) {
  if (v >= 1000 && v % 1000 === 0) return `${v / 1000}k`;
  const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return v.toFixed(digits);
}

/**
 * Draw `points` ({atMs, value}) of the last `windowMs` into `svg`, at its laid-out size.
 * `style`: 'dots' (one per event) or 'line' (a series sampled each second).
 */
export function drawChart(svg, points, { windowMs, unit, style, nowMs }) {
  const W = Math.max(120, Math.round(svg.clientWidth || 600));
  const H = Math.max(80, Math.round(svg.clientHeight || 140));
  const padL = 40;
  const padR = 6;
  const padT = 8;
  const padB = 18;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const t0 = nowMs - windowMs;
  const shown = points.filter((p) => p.atMs >= t0);
  const { step, top, ticks } = niceTicks(Math.max(0, ...shown.map((p) => p.value)));
  const x = (t) => padL + ((t - t0) / windowMs) * (W - padL - padR);
  const y = (v) => H - padB - (v / top) * (H - padB - padT);
  for (const v of ticks) {
    if (v > 0) svg.appendChild(el('line', { x1: padL, y1: y(v), x2: W - padR, y2: y(v), class: 'grid' }));
    const label = el('text', { x: padL - 4, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' });
    label.textContent = tickLabel(v, step);
    svg.appendChild(label);
  }
  svg.appendChild(el('line', { x1: padL, y1: H - padB, x2: W - padR, y2: H - padB, class: 'axis' }));
  svg.appendChild(el('line', { x1: padL, y1: padT, x2: padL, y2: H - padB, class: 'axis' }));
  const cap = el('text', { x: W - padR, y: H - 4, class: 'tick', 'text-anchor': 'end' });
  cap.textContent = `last ${Math.round(windowMs / 60000)} min · ${unit}`;
  svg.appendChild(cap);
  if (style === 'line' && shown.length > 1) {
    svg.appendChild(el('polyline', { points: shown.map((p) => `${x(p.atMs).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '), class: 'series' }));
  } else {
    for (const p of shown) {
      const c = el('circle', { cx: x(p.atMs).toFixed(1), cy: y(p.value).toFixed(1), r: 3.5, class: 'dot' });
      const title = el('title', {});
      title.textContent = `${p.value} ${unit}`;
      c.appendChild(title);
      svg.appendChild(c);
    }
  }
  svg.dataset.points = String(shown.length);
}
