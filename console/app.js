// The console page: a live view of the gateway's calls (Server-Sent Events from /console/events), latency charts,
// and the softphone.
import { Softphone } from './softphone.js';
import { drawChart } from './charts.js';

const $ = (sel, root = document) => root.querySelector(sel);
const calls = new Map(); // id → view (as the gateway sends it)
let turns = []; // { atMs, ms, id }
let lateness = []; // { atMs, lateSendsPerS }
let serverSkewMs = 0; // server clock − browser clock, so charts use the gateway's time axis

function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function text(el, s) {
  el.textContent = s;
  return el;
}

function make(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = content;
  return e;
}

// ── rendering ──────────────────────────────────────────────────────────────────────────────────────────────────────
function lineEl(line) {
  const final = line.kind !== 'caller' || line.final;
  const e = make('div', `line ${line.kind} ${line.kind === 'caller' ? (final ? 'final' : 'interim') : ''}`);
  const who = { caller: 'caller', bot: 'bot', dtmf: 'DTMF', 'barge-in': 'barge-in', pause: 'pause', backchannel: 'backchannel' }[line.kind] || line.kind;
  e.append(make('time', '', fmtTime(line.atMs)), make('span', 'who', who), make('span', 'text', line.text));
  return e;
}

function callEl(v) {
  let e = document.querySelector(`.call[data-id="${CSS.escape(v.id)}"]`);
  if (!e) {
    e = make('article', 'call');
    e.dataset.id = v.id;
    const meta = make('div', 'meta');
    meta.append(
      make('code', 'id', v.id),
      make('span', 'state'),
      make('span', 'route'),
      make('span', 'rate'),
      make('span', 'lang'),
      make('span', 'start'),
      make('span', 'end'),
    );
    const figs = make('div', 'figures');
    for (const [k, label] of [
      ['turn', 'turn latency'],
      ['frames-in', 'frames in'],
      ['frames-out', 'frames out'],
      ['jitter', 'jitter'],
      ['late', 'pacer late sends'],
      ['barge', 'barge-ins'],
    ]) {
      const f = make('span', `fig fig-${k}`);
      f.append(make('span', 'label', `${label}: `), make('b', 'value', '—'));
      figs.append(f);
    }
    e.append(meta, figs, make('div', 'transcript'));
    const list = $('#calls');
    $('.empty', list)?.remove();
    list.prepend(e);
  }
  return e;
}

function renderCall(v) {
  const e = callEl(v);
  text($('.state', e), v.state).className = `state ${v.state}`;
  text($('.route', e), `${v.from || '?'} → ${v.to || '?'}`);
  text($('.rate', e), `${v.rateHz} Hz`);
  text($('.lang', e), v.language);
  text($('.start', e), `started ${fmtTime(v.startedAtMs)}`);
  text($('.end', e), v.endedAtMs ? `ended ${fmtTime(v.endedAtMs)} (${v.closeCode} ${v.closeReason || ''})` : '');
  e.classList.toggle('ended', !!v.endedAtMs);
  renderFigures(v);
  const tr = $('.transcript', e);
  tr.replaceChildren(...v.lines.map(lineEl));
  tr.scrollTop = tr.scrollHeight;
}

function renderFigures(v) {
  const e = callEl(v);
  const f = v.figures || {};
  const t = v.turnLatenciesMs || [];
  text($('.fig-turn .value', e), t.length ? `${t[t.length - 1]} ms (${t.length})` : '—');
  text($('.fig-frames-in .value', e), String(f.framesIn ?? 0));
  text($('.fig-frames-out .value', e), String(f.framesOut ?? 0));
  text($('.fig-jitter .value', e), `${f.jitterMs ?? 0} ms`);
  text($('.fig-late .value', e), String(f.lateSends ?? 0));
  text($('.fig-barge .value', e), String(v.bargeIns ?? 0));
}

function renderCharts() {
  const nowMs = Date.now() + serverSkewMs;
  drawChart(
    $('#chart-turns'),
    turns.map((p) => ({ atMs: p.atMs, value: p.ms })),
    { windowMs: 10 * 60000, unit: 'ms', style: 'dots', nowMs },
  );
  drawChart(
    $('#chart-lateness'),
    lateness.map((p) => ({ atMs: p.atMs, value: p.lateSendsPerS })),
    { windowMs: 5 * 60000, unit: 'late sends/s', style: 'line', nowMs },
  );
}

// ── live feed ──────────────────────────────────────────────────────────────────────────────────────────────────────
function connectFeed() {
  const status = $('#feed-status');
  const es = new EventSource('/console/events');
  const on = (name, fn) => es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  es.onopen = () => {
    text(status, 'live').className = 'badge ok';
  };
  es.onerror = () => {
    text(status, 'reconnecting…').className = 'badge bad';
  };
  on('snapshot', (s) => {
    serverSkewMs = s.atMs - Date.now();
    calls.clear();
    $('#calls').replaceChildren();
    for (const v of [...s.calls].reverse()) {
      calls.set(v.id, v);
      renderCall(v);
    }
    if (!s.calls.length) $('#calls').append(make('p', 'empty', 'No calls yet.'));
    turns = s.turns;
    lateness = s.lateness;
    renderCharts();
  });
  on('call', (v) => {
    calls.set(v.id, v);
    renderCall(v);
  });
  on('state', ({ id, state }) => {
    const v = calls.get(id);
    if (!v) return;
    v.state = state;
    text($('.state', callEl(v)), state).className = `state ${state}`;
  });
  on('line', ({ id, line, replace }) => {
    const v = calls.get(id);
    if (!v) return;
    const tr = $('.transcript', callEl(v));
    if (replace && v.lines.length) {
      v.lines[v.lines.length - 1] = line;
      tr.lastElementChild?.replaceWith(lineEl(line));
    } else {
      v.lines.push(line);
      tr.append(lineEl(line));
    }
    if (line.kind === 'barge-in') v.bargeIns = (v.bargeIns || 0) + 1;
    renderFigures(v);
    tr.scrollTop = tr.scrollHeight;
  });
  on('turn', (t) => {
    const v = calls.get(t.id);
    if (v) {
      v.turnLatenciesMs.push(t.ms);
      renderFigures(v);
    }
    turns.push(t);
    renderCharts();
  });
  on('end', (e) => {
    const v = calls.get(e.id);
    if (!v) return;
    Object.assign(v, { state: 'closed', endedAtMs: e.endedAtMs, closeCode: e.closeCode, closeReason: e.closeReason, figures: e.figures });
    renderCall(v);
  });
  const figures = (s) => {
    for (const c of s.calls) {
      const v = calls.get(c.id);
      if (!v) continue;
      v.figures = c;
      renderFigures(v);
    }
  };
  // Another worker's once-a-second figures (WORKERS > 1): its calls' figures; the charts follow this worker's.
  on('stats-remote', figures);
  on('stats', (s) => {
    serverSkewMs = s.atMs - Date.now();
    figures(s);
    lateness.push({ atMs: s.atMs, lateSendsPerS: s.lateSendsPerS });
    if (lateness.length > 600) lateness.shift();
    text($('#dropped'), String(s.droppedEvents));
    renderCharts();
  });
}

// ── softphone ──────────────────────────────────────────────────────────────────────────────────────────────────────
function wirePhone() {
  let phone;
  const callBtn = $('#call-btn');
  const hangBtn = $('#hangup-btn');
  const status = (s) => text($('#phone-status'), s);
  callBtn.addEventListener('click', async () => {
    callBtn.disabled = true;
    phone = new Softphone({
      onStatus: status,
      onStats: ({ sent, received }) => {
        text($('#phone-sent'), String(sent));
        text($('#phone-received'), String(received));
      },
      onEnd: (reason) => {
        status(`call ended: ${reason}`);
        callBtn.disabled = false;
        hangBtn.disabled = true;
      },
    });
    try {
      const uuid = await phone.call();
      text($('#phone-uuid'), uuid);
      hangBtn.disabled = false;
    } catch (err) {
      status(`call failed: ${err.message}`);
      phone.end(err.message);
      callBtn.disabled = false;
    }
  });
  hangBtn.addEventListener('click', () => phone?.hangup());
  for (const key of document.querySelectorAll('#keypad .key')) {
    key.addEventListener('click', () => phone?.dtmf(key.dataset.digit));
  }
}

connectFeed();
wirePhone();
setInterval(renderCharts, 5000);
// The charts are drawn at their laid-out size: redraw when it changes (a rotated phone, a resized window).
if (typeof ResizeObserver === 'function') new ResizeObserver(() => renderCharts()).observe($('#charts'));
