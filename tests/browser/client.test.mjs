// heyan-client.js on Node's test runner: the retries (BUSY/429 with Retry-After), what is not
// retried, the problem+json error, and the WeChat/Alipay transports on stand-ins of wx and my
// that answer as the mini-program APIs document (header vs headers, statusCode vs status).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const HeyanClient = require('../../app/static/m/heyan-client.js');

function scripted(replies) {
  const calls = [];
  return {
    calls,
    request: async (r) => { calls.push(r); return replies.shift(); },
    upload: async (u) => { calls.push(u); if (u.onProgress) u.onProgress(1); return replies.shift(); },
  };
}
const problem = (status, code, extra = {}) => ({
  status, headers: extra.headers || {}, data: { code, status, detail: '中文:' + code, detail_en: code, ...extra.body },
});

test('BUSY and RATE_LIMITED are retried after Retry-After, then succeed', async () => {
  const waits = [];
  const t = scripted([
    problem(503, 'BUSY', { headers: { 'retry-after': '2' } }),
    problem(429, 'RATE_LIMITED', { headers: { 'retry-after': '1' } }),
    { status: 200, headers: {}, data: { accepted: true, checks: [] } },
  ]);
  const c = new HeyanClient({ transport: t, sessionToken: 'tok', sleep: async (ms) => waits.push(ms) });
  let progress = 0;
  const r = await c.precheck('subject_document', 'blob', (p) => { progress = p; });
  assert.equal(r.accepted, true);
  assert.deepEqual(waits, [2000, 1000]);
  assert.equal(t.calls.length, 3);
  assert.equal(progress, 1);
  assert.equal(t.calls[0].headers.Authorization, 'Bearer tok');
  assert.equal(t.calls[0].url, '/m/v1/precheck?step=subject_document');
});

test('SMS_RATE_LIMITED is not retried: the person waits for the resend button', async () => {
  const t = scripted([problem(429, 'SMS_RATE_LIMITED', { headers: { 'retry-after': '42' } })]);
  const c = new HeyanClient({ transport: t, sleep: async () => assert.fail('slept') });
  await assert.rejects(c.sendSmsCode('hq_x'), (e) => {
    assert.equal(e.code, 'SMS_RATE_LIMITED');
    assert.equal(e.retryAfter, 42);
    assert.equal(e.message_zh, '中文:SMS_RATE_LIMITED');
    return true;
  });
  assert.equal(t.calls.length, 1);
});

test('retries stop after `retries`, and a long Retry-After is not waited for', async () => {
  const t = scripted([0, 1, 2, 3].map(() => problem(503, 'BUSY', { headers: { 'retry-after': '1' } })));
  const c = new HeyanClient({ transport: t, retries: 3, sleep: async () => {} });
  await assert.rejects(c.session(), (e) => e.code === 'BUSY');
  assert.equal(t.calls.length, 4);
  const long = scripted([problem(503, 'DB_UNAVAILABLE', { headers: { 'retry-after': '300' } })]);
  await assert.rejects(new HeyanClient({ transport: long, sleep: async () => assert.fail() }).session());
});

test('opening a session keeps the token; a refused capture carries its checks', async () => {
  const seen = [];
  const t = scripted([
    { status: 201, headers: {}, data: { session_token: 'st_1', steps: [] } },
    problem(422, 'CAPTURE_REJECTED', { body: { checks: [{ code: 'BLURRY', passed: false, message_zh: '照片模糊' }] } }),
  ]);
  const c = new HeyanClient({ transport: t, onToken: (x) => seen.push(x) });
  await c.openSmsSession('hq_x', 123456, 'dev-1');
  assert.deepEqual(JSON.parse(t.calls[0].body), { qr_token: 'hq_x', platform: 'sms', code: '123456', device_id: 'dev-1' });
  assert.deepEqual(seen, ['st_1']);
  await assert.rejects(c.capture('subject_document', 'b'), (e) => e.checks[0].code === 'BLURRY' && e.status === 422);
  assert.equal(t.calls[1].headers.Authorization, 'Bearer st_1');
});

test('network failure is a HeyanError with a Chinese message', async () => {
  const c = new HeyanClient({ transport: scripted([{ status: 0, headers: {}, data: null }]) });
  await assert.rejects(c.vocabulary(), (e) => e.code === 'NETWORK_ERROR' && /网络/.test(e.message_zh));
});

function fakeMiniProgram(kind) {
  const log = [];
  const alipay = kind === 'alipay';
  const api = {
    request(o) {
      log.push(o);
      const status = o.url.endsWith('/sms-codes') ? 429 : 200;
      const res = { data: status === 200 ? { ok: 1 } : { code: 'SMS_RATE_LIMITED', detail: '请稍后' } };
      if (alipay) { res.status = status; res.headers = { 'Retry-After': '30' }; } else { res.statusCode = status; res.header = { 'Retry-After': '30' }; }
      (status === 200 || !alipay ? o.success : o.fail)(res);
    },
    uploadFile(o) {
      log.push(o);
      let progress = null;
      setTimeout(() => { if (progress) progress({ progress: 50 }); o.success({ statusCode: 201, data: '{"accepted":true}' }); }, 1);
      return { onProgressUpdate: (cb) => { progress = cb; } };
    },
  };
  return { api, log };
}

for (const kind of ['wechat', 'alipay']) {
  test(`${kind} transport: request, problem, upload with progress`, async () => {
    const { api, log } = fakeMiniProgram(kind);
    const c = new HeyanClient({ baseUrl: 'https://heyan.example', transport: HeyanClient.miniProgramTransport(api, kind), sessionToken: 't' });
    assert.deepEqual(await c.session(), { ok: 1 });
    assert.equal(log[0][kind === 'alipay' ? 'headers' : 'header'].Authorization, 'Bearer t');
    await assert.rejects(c.sendSmsCode('hq'), (e) => e.code === 'SMS_RATE_LIMITED' && e.retryAfter === 30);
    const progress = [];
    const r = await c.captureFace('ch_1', { video: 'wxfile://tmp/face.mp4' }, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(r, { accepted: true });
    const up = log[2];
    assert.equal(up.url, 'https://heyan.example/m/v1/captures/face');
    assert.equal(up.filePath, 'wxfile://tmp/face.mp4');
    assert.equal(up.name, 'video');
    assert.deepEqual(up.formData, { challenge_id: 'ch_1', mirrored: 'false' });
    if (kind === 'alipay') assert.equal(up.fileType, 'video');
    assert.deepEqual(progress, [0.5]);
    await assert.rejects(c.captureFace('ch_1', { frames: ['a', 'b'], timestamps: [0, 1] }), /one file per call/);
  });
}
