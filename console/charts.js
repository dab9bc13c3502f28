// Small SVG charts: points over the last minutes (turn latency per reply, pacing lateness per second).
const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * Draw `points` ({atMs, value}) of the last `windowMs` into `svg` (viewBox 0 0 W H).
 * `style`: 'dots' (one per event) or 'line' (a series sampled each second).
 */
export function drawChart(svg, points, { windowMs, unit, style, nowMs }) {
  const W = 600;
  const H = 140;
  const padL = 44;
  const padB = 18;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const t0 = nowMs - windowMs;
  const shown = points.filter((p) => p.atMs >= t0);
  const max = Math.max(1, ...shown.map((p) => p.value)) * 1.1;
  const x = (t) => padL + ((t - t0) / windowMs) * (W - padL - 4);
  const y = (v) => H - padB - (v / max) * (H - padB - 6);
  svg.appendChild(el('line', { x1: padL, y1: H - padB, x2: W - 4, y2: H - padB, class: 'axis' }));
  svg.appendChild(el('line', { x1: padL, y1: 4, x2: padL, y2: H - padB, class: 'axis' }));
  for (const frac of [0.5, 1]) {
    const v = (max / 1.1) * frac;
    const label = el('text', { x: padL - 4, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' });
    label.textContent = v < 10 ? v.toFixed(1) : `${Math.round(v)}`;
    svg.appendChild(label);
    svg.appendChild(el('line', { x1: padL, y1: y(v), x2: W - 4, y2: y(v), class: 'grid' }));
  }
  const cap = el('text', { x: W - 6, y: H - 4, class: 'tick', 'text-anchor': 'end' });
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
