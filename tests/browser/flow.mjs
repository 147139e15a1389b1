// Drives the capture page (/m/qr) in Debian's headless Chromium through playwright-core,
// with a fake camera fed from a Y4M file, as a person with only a phone browser would.
// Called by tests/browser/test_capture_page.py with one JSON argument; prints one JSON line.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const cfg = JSON.parse(process.argv[2]);
mkdirSync(cfg.shots, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const outside = [];
const shots = [];
const seen = { views: [], steps: [], live: [] };

async function smsCode(after) {
  // The dev gateway writes the code to the server's log (the test's capture of it).
  for (let i = 0; i < 100; i++) {
    const log = readFileSync(cfg.log, 'utf8').slice(after);
    const all = [...log.matchAll(/dev SMS to \d{3}\*{4}\d{4}: code (\d{6})/g)];
    if (all.length) return all[all.length - 1][1];
    await sleep(100);
  }
  throw new Error('no SMS code in the server log');
}

async function shot(page, name) {
  const file = join(cfg.shots, `${String(shots.length + 1).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  // Phone layout: nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`${name}: page is ${overflow}px wider than the viewport`);
  shots.push(file);
}

async function view(page, name, timeout = 30000) {
  await page.waitForSelector(`body[data-view="${name}"]`, { timeout });
  seen.views.push(name);
}

async function errorText(page) {
  const box = page.locator('#error');
  return (await box.isVisible()) ? (await box.innerText()) : '';
}

async function phoneProof(page) {
  await view(page, 'notice');
  await shot(page, 'notice');
  await page.check('#ack');
  await page.click('#next');
  await view(page, 'phone');
  await page.waitForFunction(() => document.querySelector('#masked-mobile').textContent.includes('****'));
  await shot(page, 'phone');
  const before = readFileSync(cfg.log, 'utf8').length;
  await page.click('#send-code');
  const code = await smsCode(before);
  await page.fill('#sms-code', code);
  await page.click('#verify');
  await view(page, 'steps');
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: [
    '--no-sandbox',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${cfg.y4m}`,
    // No outside request: every name but the service's address fails to resolve.
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  ],
});
const result = { ok: false };
try {
  const context = await browser.newContext({
    viewport: { width: cfg.width || 360, height: cfg.height || 640 },
    deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
  });
  const page = await context.newPage();
  page.on('request', (r) => { if (!r.url().startsWith(cfg.base + '/') && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) outside.push(r.url()); });
  page.on('pageerror', (e) => { result.pageErrors = (result.pageErrors || []).concat(String(e)); });
  await page.goto(`${cfg.base}/m/qr?t=${encodeURIComponent(cfg.token)}`);

  if (cfg.mode === 'refusal') {
    await phoneProof(page);
    await page.click('#go');
    await view(page, 'document');
    await page.setInputFiles('#file', cfg.files.blurred_licence);
    await page.click('#use');
    await page.waitForSelector('#error li[data-check]', { timeout: 120000 });
    result.checks = await page.$$eval('#error li[data-check]', (lis) => lis.map((li) => ({ code: li.dataset.check, text: li.textContent })));
    await shot(page, 'refused-blurred');
    // The English switch shows the same check in English.
    await page.click('#lang');
    result.lang = await page.evaluate(() => document.documentElement.lang);
    result.checksEn = await page.$$eval('#error li[data-check]', (lis) => lis.map((li) => ({ code: li.dataset.check, text: li.textContent })));
    await shot(page, 'refused-blurred-en');
    await page.click('#lang');
    result.ok = true;
  } else {
    await phoneProof(page);
    await shot(page, 'steps');
    let reloaded = false;
    for (let i = 0; i < 10; i++) {
      if (await page.locator('body[data-view="done"]').count()) break;
      const step = await page.getAttribute('#go', 'data-step');
      seen.steps.push(step);
      await page.click('#go');
      if (step === 'face') {
        await view(page, 'consent');
        await shot(page, 'face-consent');
        await page.check('#consent');
        await page.click('#consent-go');
        await view(page, 'face');
        await page.waitForSelector('#record:not([disabled])');
        await page.click('#record');
        await page.waitForSelector('#prompt:not([hidden])');
        result.prompts = [];
        for (let k = 0; k < 3; k++) {
          result.prompts.push(await page.textContent('#prompt'));
          await shot(page, `face-action-${k + 1}`);
          await sleep(1200);
        }
      } else {
        await view(page, 'document');
        if ((cfg.camera_steps || []).includes(step)) {
          // The camera: wait for the live pre-check to pass, take the photo, upload it.
          await page.waitForSelector('#live[data-accepted="true"]', { timeout: 60000 });
          seen.live.push(await page.textContent('#live'));
          await shot(page, `camera-${step}`);
          await page.click('#shoot');
        } else {
          await page.setInputFiles('#file', cfg.files[step]);
        }
        await page.waitForSelector('#use:not([hidden])');
        await shot(page, `photo-${step}`);
        await page.click('#use');
      }
      await page.waitForSelector('body[data-view="steps"], body[data-view="done"]', { timeout: 120000 })
        .catch(async (e) => { throw new Error(`${step}: ${await errorText(page)} ${e}`); });
      if (!reloaded && step !== 'face') {
        // Resumable: a reload comes back to the steps with the session from sessionStorage.
        reloaded = true;
        await page.reload();
        await view(page, 'steps');
        result.resumed = true;
      }
      await shot(page, `after-${step}`);
    }
    await view(page, 'done');
    result.status = await page.textContent('#order-status');
    result.statusCode = await page.getAttribute('#order-status', 'data-status');
    await shot(page, 'done');
    // The English switch, then the larger phone.
    await page.click('#lang');
    result.statusEn = await page.textContent('#order-status');
    await shot(page, 'done-en');
    await page.click('#lang');
    await page.setViewportSize({ width: 414, height: 896 });
    await shot(page, 'done-414x896');
    result.ok = true;
  }
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  result.outside = outside;
  result.shots = shots;
  result.seen = seen;
  await browser.close();
  console.log(JSON.stringify(result));
}
