/**
 * The console's charts in a real browser (Chromium): they fill their panel on a desktop and on a phone, and their
 * y-axis ticks are round numbers.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { startGateway } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';

interface Ticks {
  step: number;
  top: number;
  ticks: number[];
}
const charts = (await import(pathToFileURL(resolve('console/charts.js')).href)) as {
  niceTicks(max: number): Ticks;
  tickLabel(v: number, step: number): string;
};

t.test('y-axis ticks are round steps that cover the data', async (t) => {
  t.same(charts.niceTicks(697), { step: 200, top: 800, ticks: [0, 200, 400, 600, 800] }, 'not 349 / 697');
  t.same(charts.niceTicks(349).ticks, [0, 100, 200, 300, 400]);
  t.same(charts.niceTicks(0).ticks, [0, 0.5, 1], 'an empty chart still has an axis');
  for (const max of [0.03, 0.37, 1, 3, 9.9, 10, 12, 97, 250, 1001, 4321, 86000]) {
    const { step, top, ticks } = charts.niceTicks(max);
    const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    t.ok(
      [1, 2, 5].some((k) => Math.abs(mantissa - k) < 1e-9),
      `${max}: step ${step} is 1, 2 or 5 × 10^k`,
    );
    t.ok(top >= max && top - step < max, `${max}: top ${top} covers the data with less than a step to spare`);
    t.ok(ticks.length >= 2 && ticks.length <= 5, `${max}: ${ticks.length} ticks`);
  }
  t.equal(charts.tickLabel(2000, 1000), '2k');
  t.equal(charts.tickLabel(0.5, 0.5), '0.5');
  t.equal(charts.tickLabel(400, 200), '400');
});

t.test('the charts fill their panel at desktop and phone widths', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run installs it)`);
  const g = await startGateway(t, { CONSOLE_ENABLED: 'true' });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  for (const [name, width, height] of [
    ['desktop', 1400, 900],
    ['phone', 375, 740],
  ] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${g.url}/console`, { timeout: 15000 });
    await page.waitForSelector('#feed-status.ok', { timeout: 15000 });
    // Data like the screenshot: a reply at 697 ms.
    const m = await page.evaluate(async () => {
      const doc = (globalThis as any).document;
      const chartsUrl: string = '/console/charts.js'; // the browser's module, not one for tsc to resolve
      const mod = await import(chartsUrl);
      const svg = doc.querySelector('#chart-turns');
      const now = Date.now();
      mod.drawChart(
        svg,
        [
          { atMs: now - 60000, value: 349 },
          { atMs: now - 1000, value: 697 },
        ],
        { windowMs: 600000, unit: 'ms', style: 'dots', nowMs: now },
      );
      const panel = doc.querySelector('#charts');
      const cs = (globalThis as any).getComputedStyle(panel);
      const inner = panel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      const axis = svg.querySelector('line.axis').getBoundingClientRect();
      const box = svg.getBoundingClientRect();
      const labels = [...svg.querySelectorAll('text.tick')].map((e: any) => e.textContent as string);
      const fontPx = parseFloat((globalThis as any).getComputedStyle(svg.querySelector('text.tick')).fontSize) * (box.width / svg.viewBox.baseVal.width);
      return { inner, svgWidth: box.width, axisWidth: axis.width, labels, fontPx, viewport: doc.documentElement.clientWidth };
    });
    t.ok(m.svgWidth >= m.inner - 2, `${name}: the chart is as wide as its panel (${m.svgWidth} of ${m.inner} px)`);
    t.ok(m.axisWidth >= m.svgWidth - 60, `${name}: the drawing spans the chart (x axis ${m.axisWidth.toFixed(0)} of ${m.svgWidth.toFixed(0)} px)`);
    if (name === 'phone') t.ok(m.svgWidth >= m.viewport * 0.8, `${name}: the chart takes most of the screen's width (${m.svgWidth} of ${m.viewport} px)`);
    t.ok(m.fontPx >= 9 && m.fontPx <= 12, `${name}: tick labels drawn at ${m.fontPx.toFixed(1)} px (not scaled)`);
    t.same(m.labels.slice(0, 5), ['0', '200', '400', '600', '800'], `${name}: round ticks`);
    await page.close();
  }
});
