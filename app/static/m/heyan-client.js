/*
 * heyan-client.js — a small client of Heyan's capture-session API (/m/v1), with no
 * dependencies. The browser page (/m/qr) uses it as is; a WeChat or Alipay mini-program
 * uses it with a transport built on wx.request / wx.uploadFile or my.request / my.uploadFile
 * (README, "Client library"). Plain ES2017, loads as a <script> (window.HeyanClient) or as a
 * CommonJS module (require('./heyan-client.js')).
 *
 * Types (JSDoc):
 * @typedef {{status:number, headers:Object<string,string>, data:any}} Reply
 *   headers: lower-case names.
 * @typedef {{method:string, url:string, headers:Object<string,string>, body?:string}} Req
 * @typedef {{name:string, data:(Blob|string), filename?:string}} FilePart
 *   data: a Blob in a browser; a temp file path in a mini-program.
 * @typedef {{url:string, headers:Object<string,string>, fields:Object<string,string>,
 *            files:FilePart[], onProgress?:function(number):void}} Upload
 * @typedef {{request:function(Req):Promise<Reply>, upload:function(Upload):Promise<Reply>}} Transport
 * @typedef {{step:string, title:string, done:boolean, available:boolean,
 *            blocked_reason:(string|null)}} Step
 * @typedef {{code:string, passed:boolean, score:(number|null), threshold:(number|null),
 *            message_zh:string, message_en:string}} Check
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.HeyanClient = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /** An answer that is not 2xx: the problem+json body, with its stable code and Chinese text. */
  class HeyanError extends Error {
    constructor(status, problem, headers) {
      problem = problem && typeof problem === 'object' ? problem : {};
      super(problem.detail_en || problem.detail || 'HTTP ' + status);
      this.name = 'HeyanError';
      this.status = status;
      this.code = problem.code || (status === 0 ? 'NETWORK_ERROR' : 'HTTP_' + status);
      this.message_zh = problem.detail || (status === 0 ? '网络连接失败,请检查网络后重试' : '请求失败,请稍后重试');
      this.message_en = problem.detail_en || this.message;
      this.problem = problem;
      this.checks = problem.checks || null;
      const ra = (headers && headers['retry-after']) || problem.retry_after_seconds;
      this.retryAfter = ra !== undefined && ra !== null && isFinite(Number(ra)) ? Number(ra) : null;
    }
  }

  // Retried by the client itself after Retry-After (at most maxWaitSeconds each time).
  // Not retried: SMS_RATE_LIMITED (the person waits for the resend button) and
  // FACE_ATTEMPTS_EXCEEDED (a 30-minute lock-out).
  const RETRYABLE = new Set(['BUSY', 'RATE_LIMITED', 'DB_UNAVAILABLE', 'STORAGE_UNAVAILABLE']);

  function lowerHeaders(h) {
    const out = {};
    if (!h) return out;
    if (typeof h.forEach === 'function' && typeof h.get === 'function') {
      h.forEach(function (v, k) { out[k.toLowerCase()] = v; });
    } else {
      Object.keys(h).forEach(function (k) { out[k.toLowerCase()] = String(h[k]); });
    }
    return out;
  }

  function parseBody(text) {
    if (typeof text !== 'string') return text;
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  /** The browser transport: XMLHttpRequest, for upload progress. */
  function browserTransport() {
    function send(method, url, headers, body, onProgress) {
      return new Promise(function (resolve) {
        const xhr = new XMLHttpRequest();
        xhr.open(method, url, true);
        Object.keys(headers || {}).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
        if (onProgress && xhr.upload) {
          xhr.upload.onprogress = function (e) {
            if (e.lengthComputable) onProgress(e.loaded / e.total);
          };
        }
        xhr.onload = function () {
          const h = {};
          xhr.getAllResponseHeaders().trim().split(/[\r\n]+/).forEach(function (line) {
            const i = line.indexOf(':');
            if (i > 0) h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
          });
          resolve({ status: xhr.status, headers: h, data: parseBody(xhr.responseText) });
        };
        xhr.onerror = xhr.ontimeout = function () { resolve({ status: 0, headers: {}, data: null }); };
        xhr.send(body === undefined ? null : body);
      });
    }
    return {
      request: function (r) { return send(r.method, r.url, r.headers, r.body); },
      upload: function (u) {
        const form = new FormData();
        Object.keys(u.fields || {}).forEach(function (k) { form.append(k, u.fields[k]); });
        (u.files || []).forEach(function (f) { form.append(f.name, f.data, f.filename || f.name); });
        return send('POST', u.url, u.headers, form, u.onProgress);
      },
    };
  }

  /**
   * A mini-program transport: `api` is WeChat's `wx` or Alipay's `my`. Their request APIs
   * differ in names (header/headers, statusCode/status); their uploadFile sends one file per
   * call, so the face step goes as one `video` (wx.chooseMedia / camera recording), not frames.
   */
  function miniProgramTransport(api, kind) {
    kind = kind || (typeof api.getPhoneNumber === 'function' && typeof api.login === 'function' &&
      typeof api.getAuthCode === 'function' ? 'alipay' : 'wechat');
    const alipay = kind === 'alipay';
    function reply(res, status) {
      return { status: status, headers: lowerHeaders(res.header || res.headers), data: parseBody(res.data) };
    }
    return {
      request: function (r) {
        return new Promise(function (resolve) {
          const opts = {
            url: r.url, method: r.method, data: r.body === undefined ? undefined : JSON.parse(r.body),
            dataType: 'json',
            success: function (res) { resolve(reply(res, alipay ? (res.status || res.statusCode) : res.statusCode)); },
            fail: function (res) {
              // Alipay calls fail for HTTP errors too, with the answer in res.data / res.status.
              const status = res && (res.status || res.statusCode);
              resolve(status ? reply(res, status) : { status: 0, headers: {}, data: null });
            },
          };
          opts[alipay ? 'headers' : 'header'] = r.headers;
          api.request(opts);
        });
      },
      upload: function (u) {
        if ((u.files || []).length !== 1) {
          return Promise.reject(new Error('a mini-program uploads one file per call: send a video'));
        }
        const f = u.files[0];
        return new Promise(function (resolve) {
          const opts = {
            url: u.url, filePath: f.data, name: f.name, header: u.headers, formData: u.fields,
            success: function (res) { resolve(reply(res, res.statusCode || res.status)); },
            fail: function (res) {
              const status = res && (res.statusCode || res.status);
              resolve(status ? reply(res, status) : { status: 0, headers: {}, data: null });
            },
          };
          if (alipay) { opts.fileName = f.name; opts.fileType = f.name === 'video' ? 'video' : 'image'; }
          const task = api.uploadFile(opts);
          if (task && task.onProgressUpdate && u.onProgress) {
            task.onProgressUpdate(function (p) { u.onProgress((p.progress || 0) / 100); });
          }
        });
      },
    };
  }

  function defaultSleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  class HeyanClient {
    /**
     * @param {{baseUrl?:string, transport?:Transport, sessionToken?:string, retries?:number,
     *          maxWaitSeconds?:number, sleep?:function(number):Promise<void>,
     *          onToken?:function(string):void}} [opts]
     */
    constructor(opts) {
      opts = opts || {};
      this.baseUrl = (opts.baseUrl || '').replace(/\/$/, '');
      this.transport = opts.transport || browserTransport();
      this.sessionToken = opts.sessionToken || null;
      this.retries = opts.retries === undefined ? 3 : opts.retries;
      this.maxWaitSeconds = opts.maxWaitSeconds || 30;
      this.sleep = opts.sleep || defaultSleep;
      this.onToken = opts.onToken || null;
    }

    _headers(auth, json) {
      const h = { Accept: 'application/json' };
      if (json) h['Content-Type'] = 'application/json';
      if (auth && this.sessionToken) h.Authorization = 'Bearer ' + this.sessionToken;
      return h;
    }

    async _retrying(send) {
      for (let attempt = 0; ; attempt++) {
        const reply = await send();
        if (reply.status >= 200 && reply.status < 300) return reply.data;
        const err = new HeyanError(reply.status, reply.data, reply.headers);
        const wait = err.retryAfter === null ? 2 : err.retryAfter;
        if (attempt < this.retries && RETRYABLE.has(err.code) && wait <= this.maxWaitSeconds) {
          await this.sleep(wait * 1000);
          continue;
        }
        throw err;
      }
    }

    _json(method, path, body, auth) {
      const self = this;
      return this._retrying(function () {
        return self.transport.request({
          method: method,
          url: self.baseUrl + path,
          headers: self._headers(auth, body !== undefined),
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      });
    }

    _upload(path, fields, files, onProgress) {
      const self = this;
      return this._retrying(function () {
        return self.transport.upload({
          url: self.baseUrl + path,
          headers: self._headers(true, false),
          fields: fields || {},
          files: files,
          onProgress: onProgress,
        });
      });
    }

    _keep(opened) {
      this.sessionToken = opened.session_token;
      if (this.onToken) this.onToken(this.sessionToken);
      return opened;
    }

    /** The flow's words: step titles, blocked reasons, statuses, check messages, notices. */
    vocabulary() { return this._json('GET', '/m/v1/vocabulary'); }

    /** SMS proof, 1: send a code to the order's own number (preview: only show it masked). */
    sendSmsCode(qrToken, opts) {
      return this._json('POST', '/m/v1/sms-codes', { qr_token: qrToken, preview: !!(opts && opts.preview) });
    }

    /** Open the session with any proof: {platform:'sms', code} / {platform:'wechat', code} /
     *  {platform:'alipay', response}. Keeps the session token. */
    async openSession(qrToken, proof, deviceId) {
      const body = Object.assign({ qr_token: qrToken }, proof);
      if (deviceId) body.device_id = deviceId;
      return this._keep(await this._json('POST', '/m/v1/sessions', body));
    }

    /** SMS proof, 2: the 6-digit code opens the session. */
    openSmsSession(qrToken, code, deviceId) {
      return this.openSession(qrToken, { platform: 'sms', code: String(code) }, deviceId);
    }

    /** The session: steps (Step[]), next_step, face_consent terms, masked order data. */
    session() { return this._json('GET', '/m/v1/session', undefined, true); }

    /** Record that the notices were read ('no_proxy', 'shooting'). */
    acknowledge(notices, acceptedAt) {
      return this._json('POST', '/m/v1/acknowledgements', {
        notices: notices, accepted_at: (acceptedAt || new Date()).toISOString(),
      }, true);
    }

    /** Pre-check a document photo: {accepted, checks: Check[]}; nothing is stored. */
    precheck(step, file, onProgress) {
      return this._upload('/m/v1/precheck?step=' + encodeURIComponent(step), {},
        [{ name: 'file', data: file, filename: 'photo.jpg' }], onProgress);
    }

    /** A liveness challenge; needs the face consent terms the session shows. */
    challenge(terms, acceptedAt) {
      return this._json('POST', '/m/v1/liveness/challenge', {
        consent: { version: terms.version, text_sha256: terms.text_sha256,
                   accepted_at: (acceptedAt || new Date()).toISOString() },
      }, true);
    }

    /** Upload a document photo for a step: {accepted, checks, next_step, order_status}.
     *  A refused capture throws HeyanError with code CAPTURE_REJECTED and .checks. */
    capture(step, file, onProgress) {
      return this._upload('/m/v1/captures/' + encodeURIComponent(step), {},
        [{ name: 'file', data: file, filename: 'photo.jpg' }], onProgress);
    }

    /** Upload the face step: {video} (a recording) or {frames, timestamps} (JPEGs and ms). */
    captureFace(challengeId, media, opts) {
      opts = opts || {};
      const fields = { challenge_id: challengeId, mirrored: opts.mirrored ? 'true' : 'false' };
      let files;
      if (media.video) {
        const type = (media.video.type || '').indexOf('mp4') >= 0 ? 'mp4' : 'webm';
        files = [{ name: 'video', data: media.video, filename: 'face.' + type }];
      } else {
        fields.timestamps = JSON.stringify(media.timestamps);
        if (media.capturedAt) fields.captured_at = String(media.capturedAt);
        files = media.frames.map(function (f, i) {
          return { name: 'frames', data: f, filename: 'frame' + i + '.jpg' };
        });
      }
      return this._upload('/m/v1/captures/face', fields, files, opts.onProgress);
    }
  }

  HeyanClient.HeyanError = HeyanError;
  HeyanClient.browserTransport = browserTransport;
  HeyanClient.miniProgramTransport = miniProgramTransport;
  HeyanClient.RETRYABLE = RETRYABLE;
  return HeyanClient;
});
