/**
 * The console and softphone in a real browser: Debian's Chromium (headless, through playwright-core) opens /console
 * on a real gateway running the offline bot (pocketsphinx + Flite), clicks "Call the bot", and speaks recorded speech
 * through Chromium's fake microphone. The page must show the call, the greeting, the caller's final transcript, the
 * bot's reply, frame figures and a turn latency; a keypad press shows as DTMF; hang-up ends the call.
 * Every wait is bounded.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { eventsOf, startGateway, until, untilEvent } from '../helpers/gateway.js';
import { writeWavFile } from '../../src/audio/wav.js';

const CHROMIUM = '/usr/bin/chromium';
const GOFORWARD = '/usr/share/pocketsphinx/test/data/goforward.raw'; // 16 kHz: "go forward ten meters"
const WAIT_MS = 45000;

t.test('softphone call through the console in Chromium', { timeout: 110000 }, async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run installs it)`);
  const dir = mkdtempSync(join(tmpdir(), 'vgw-console-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The fake microphone loops this file: 4 s of silence (the greeting plays), the utterance, then 8 s of silence.
  const speech = readFileSync(GOFORWARD);
  const pcm = new Int16Array(16000 * 4 + speech.length / 2 + 16000 * 8);
  pcm.set(new Int16Array(speech.buffer, speech.byteOffset, speech.length / 2), 16000 * 4);
  const wav = join(dir, 'caller.wav');
  writeWavFile(wav, pcm, 16000);

  const g = await startGateway(t, { CONSOLE_ENABLED: 'true', ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite', LOG_LEVEL: 'info' });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const consoleErrors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
  page.on('pageerror', (e) => void consoleErrors.push(e.message));

  try {
    await page.goto(`${g.url}/console`, { timeout: 15000 });
    await page.waitForSelector('#feed-status.ok', { timeout: 15000 });
    await page.click('#call-btn');
    await page.waitForFunction(() => /^browser-/.test((globalThis as any).document.querySelector('#phone-uuid')?.textContent ?? ''), undefined, {
      timeout: 20000,
    });
    const uuid = (await page.textContent('#phone-uuid'))!.trim();
    const card = `.call[data-id="${uuid}"]`;
    await page.waitForSelector(card);
    t.pass(`the call ${uuid} is in the live list`);
    t.match(await page.textContent(`${card} .route`), /browser → bot/, 'from and to');
    t.match(await page.textContent(`${card} .rate`), /16000 Hz/, 'rate');

    await page.waitForSelector(`${card} .line.bot:has-text("Say something")`);
    t.pass('the greeting appears');
    await page.waitForSelector(`${card} .line.caller.final:has-text("forward")`);
    // The line that has the words: Chromium's fake capture loops the file, and the offline recogniser may mishear one
    // pass ("go for years"), so the first final line is not always the one waited for.
    const heard = await page.textContent(`${card} .line.caller.final:has-text("forward") .text`);
    t.match(heard, /forward/, `the caller's final transcript: "${heard}"`);
    await page.waitForSelector(`${card} .line.bot:has-text("You said")`);
    t.pass('the bot reply appears');
    await page.waitForFunction((sel) => /^\d+ ms/.test((globalThis as any).document.querySelector(`${sel} .fig-turn .value`)?.textContent ?? ''), card);
    t.match(await page.textContent(`${card} .fig-turn .value`), /^\d+ ms/, 'a turn latency is shown');
    await page.waitForFunction(
      (sel) =>
        Number((globalThis as any).document.querySelector(`${sel} .fig-frames-in .value`)?.textContent) > 0 &&
        Number((globalThis as any).document.querySelector(`${sel} .fig-frames-out .value`)?.textContent) > 0,
      card,
    );
    const fin = Number(await page.textContent(`${card} .fig-frames-in .value`));
    const fout = Number(await page.textContent(`${card} .fig-frames-out .value`));
    t.ok(fin > 0 && fout > 0, `frames in ${fin}, out ${fout}`);
    t.ok(Number(await page.getAttribute('#chart-turns', 'data-points')) >= 1, 'the turn latency chart has a point');

    await page.click('#keypad .key[data-digit="5"]');
    await page.waitForSelector(`${card} .line.dtmf:has-text("5")`);
    t.pass('the DTMF shows in the transcript');
    await page.waitForSelector(`${card} .line.bot:has-text("You pressed 5")`);
    t.pass('the bot answers the key');

    // The softphone echoed notify like Vonage: replies complete by playout, not by the pacer's notify timeout.
    await untilEvent(g, 'reply-done', (e) => e.call === uuid && !e.interrupted, 10000, 'a reply played');
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/console.png', fullPage: true, timeout: 10000 });

    await page.click('#hangup-btn');
    await page.waitForSelector(`${card}.ended .state.closed`);
    t.match(await page.textContent(`${card} .end`), /ended .*1000/, 'the call ends (1000 from the caller)');
    await until(() => g.gw.tracker.size === 0, 10000, 'gateway call closed');
    const ended = eventsOf(g, 'call-end', uuid)[0];
    t.ok(ended, 'the gateway reported the end');
    t.equal(ended!.summary.pacer.notifyTimeouts, 0, 'every notify was echoed by the softphone');
    t.ok(ended!.summary.pacer.segmentsPlayed >= 1, `replies completed by playout (notify echoed after playing): ${ended!.summary.pacer.segmentsPlayed}`);
    t.same(consoleErrors, [], 'no errors in the page');
  } catch (err) {
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/console-failure.png', fullPage: true, timeout: 5000 }).catch(() => {});
    for (const l of g.logs.slice(-60)) process.stderr.write(`  log: ${JSON.stringify(l).slice(0, 300)}\n`);
    process.stderr.write(`  page errors: ${consoleErrors.join(' | ')}\n`);
    throw err;
  }
});
