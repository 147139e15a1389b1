/*
 * The capture page behind the QR URL (/m/qr?t=TOKEN): the same session API as the
 * mini-programs (through heyan-client.js), with an SMS code as the phone proof.
 * Step titles, statuses, check messages, notices and errors come from the API
 * (GET /m/v1/vocabulary and the answers' message_zh / detail); only the page's own chrome
 * (button labels, hints) is written here, in Chinese and English.
 * Resumable: the session token is kept in sessionStorage for this QR token.
 */
(function () {
  'use strict';

  var UI = {
    zh: {
      app_title: '备案电子化核验', loading: '正在加载…', lang: 'English',
      no_token: '二维码链接不完整,请重新扫描备案系统中的二维码。',
      ack: '我已阅读以上须知,承诺由本人完成核验', next: '下一步',
      phone_title: '验证手机号', phone_to: '验证码将发送至备案信息中登记的手机号:',
      phone_hint: '如该号码不是您本人正在使用的手机号,请联系接入商修改备案信息后再核验。',
      send: '获取验证码', resend: '重新获取', resend_in: '{n} 秒后可重新获取',
      code_label: '短信验证码(6位数字)', verify: '验证并开始核验', sent: '验证码已发送,5 分钟内有效。',
      steps_title: '核验步骤', done_mark: '已完成', todo_mark: '未完成', start: '开始:',
      shoot: '拍照', retake: '重拍', use: '上传此照片', pick: '从相册选择或用系统相机拍摄',
      camera_off: '无法打开相机,请点击下方按钮选择照片上传。',
      doc_hint: '请将证件原件平放,四角完整置于框内,避免反光和遮挡。',
      sheet_hint: '请拍摄已签字盖章的《网站备案信息真实性核验单》,完整、清晰。',
      live_wait: '正在检查画面…', live_ok: '画面合格,可以拍摄', uploading: '正在上传…',
      refused: '未通过检查,请按以下提示重新拍摄:', face_title: '人脸核验', consent_ack: '我已阅读并同意《人脸信息处理授权书》',
      consent_go: '同意并开始', face_hint: '请正对手机,将面部置于框内,点击"开始录制"后按提示逐个完成动作。',
      record: '开始录制', recording: '录制中,请按提示完成动作', face_retry: '重新录制',
      done_title: '核验完成', done_text: '您的核验已提交,当前状态:', done_close: '可以关闭此页面。',
      part_done: '本二维码的核验步骤已全部完成,当前状态:', blocked: '暂不可拍摄:',
      retry: '重试', mic: '请允许使用麦克风,并大声读出数字',
    },
    en: {
      app_title: 'ICP filing verification', loading: 'Loading…', lang: '中文',
      no_token: 'The QR link is incomplete; scan the QR code in the filing system again.',
      ack: 'I have read the above and will do this verification myself', next: 'Next',
      phone_title: 'Verify the phone number', phone_to: 'The code goes to the mobile number on the filing: ',
      phone_hint: 'If this is not the number you use, ask the access provider to correct the filing first.',
      send: 'Send code', resend: 'Send again', resend_in: 'Send again in {n} s',
      code_label: 'SMS code (6 digits)', verify: 'Verify and start', sent: 'Code sent; valid for 5 minutes.',
      steps_title: 'Steps', done_mark: 'Done', todo_mark: 'To do', start: 'Start: ',
      shoot: 'Take photo', retake: 'Retake', use: 'Upload this photo', pick: 'Choose a photo or use the camera app',
      camera_off: 'The camera cannot be opened; choose a photo below instead.',
      doc_hint: 'Lay the original flat with all four corners inside the frame, without glare or fingers.',
      sheet_hint: 'Photograph the signed and stamped verification sheet, whole and sharp.',
      live_wait: 'Checking the picture…', live_ok: 'The picture is fine: take the photo', uploading: 'Uploading…',
      refused: 'Not accepted; do as follows and try again:', face_title: 'Face verification', consent_ack: 'I have read and agree to the face-processing consent',
      consent_go: 'Agree and start', face_hint: 'Face the phone with your face inside the oval, tap "Start recording" and do each action as shown.',
      record: 'Start recording', recording: 'Recording: follow the prompts', face_retry: 'Record again',
      done_title: 'Verification complete', done_text: 'Your verification is in. Status: ', done_close: 'You may close this page.',
      part_done: 'Every step of this QR code is done. Status: ', blocked: 'Not yet: ',
      retry: 'Try again', mic: 'Allow the microphone and read the digits aloud',
    },
  };

  var lang = localStorage.getItem('heyan.lang') === 'en' ? 'en' : 'zh';
  var qr = new URLSearchParams(location.search).get('t') || '';
  var KEY = 'heyan.session:' + qr.slice(-16);
  var ACK = 'heyan.ack:' + qr.slice(-16);
  var deviceId = localStorage.getItem('heyan.device');
  if (!deviceId) {
    deviceId = 'web-' + Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(12)),
      function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
    localStorage.setItem('heyan.device', deviceId);
  }
  var client = new window.HeyanClient({
    sessionToken: sessionStorage.getItem(KEY),
    onToken: function (tok) { sessionStorage.setItem(KEY, tok); },
  });
  var vocab = null;
  var session = null;
  var current = null; // re-renders the current view (language switch)
  var cleanup = [];   // stops cameras and timers of the view being left

  function t(key, n) { return (UI[lang][key] || key).replace('{n}', n); }
  function w(entry, fallback) { return entry ? (entry[lang] || entry.zh) : fallback; }
  function stepTitle(step) { return w(vocab && vocab.steps[step], step); }
  function msg(check) { return lang === 'zh' ? check.message_zh : (check.message_en || check.message_zh); }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'on') Object.keys(attrs.on).forEach(function (e) { node.addEventListener(e, attrs.on[e]); });
      else if (attrs[k] === true) node.setAttribute(k, '');
      else if (attrs[k] !== false && attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  function leave() {
    cleanup.splice(0).forEach(function (f) { try { f(); } catch (e) { /* already stopped */ } });
  }

  function show(render) {
    leave();
    current = render;
    clearError();
    var view = document.getElementById('view');
    view.textContent = '';
    var nodes = render();
    (Array.isArray(nodes) ? nodes : [nodes]).forEach(function (n) { if (n) view.appendChild(n); });
    var h = view.querySelector('h2');
    if (h) { h.setAttribute('tabindex', '-1'); h.focus(); }
    document.body.setAttribute('data-view', render.viewName || '');
  }

  var lastError = null;

  function clearError() {
    lastError = null;
    var box = document.getElementById('error');
    box.hidden = true;
    box.textContent = '';
  }

  /** Every error shows the API's own Chinese text (message_zh / detail), or its English. */
  function showError(err, checks) {
    lastError = [err, checks];
    var box = document.getElementById('error');
    box.textContent = '';
    var text = err && err.message_zh ? (lang === 'zh' ? err.message_zh : err.message_en) : String(err && err.message || err);
    var list = checks || (err && err.checks) || [];
    var shown = {};
    // A refused capture: a headline, then each failed check's own instruction, once (a
    // check can be recorded per field).
    var failed = list.filter(function (c) {
      var m = msg(c);
      if (c.passed || shown[m]) return false;
      shown[m] = true;
      return true;
    });
    if (failed.length) text = t('refused');
    box.appendChild(el('p', { text: text, 'data-code': err && err.code || '' }));
    if (failed.length) {
      box.appendChild(el.apply(null, ['ul', { class: 'checks' }].concat(failed.map(function (c) {
        return el('li', { class: 'bad', 'data-check': c.code, text: msg(c) });
      }))));
    }
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
  }

  function applyChrome() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.getElementById('lang').textContent = t('lang');
    document.getElementById('app-title').textContent = t('app_title');
    document.title = t('app_title');
  }

  document.getElementById('lang').addEventListener('click', function () {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('heyan.lang', lang);
    applyChrome();
    var shown = lastError;
    if (current) show(current);
    if (shown) showError(shown[0], shown[1]);  // the same error, in the other language
  });

  function named(name, fn) { fn.viewName = name; return fn; }

  // -- 1. the notices -------------------------------------------------------------------

  function noticeView() {
    return show(named('notice', function () {
      var n = vocab.notices;
      var box = el('input', { type: 'checkbox', id: 'ack' });
      var go = el('button', { type: 'button', id: 'next', disabled: true, text: t('next') });
      box.addEventListener('change', function () { go.disabled = !box.checked; });
      go.addEventListener('click', function () {
        sessionStorage.setItem(ACK, new Date().toISOString());
        phoneView();
      });
      function section(key, cls) {
        var s = n[key];
        return el('div', { class: cls },
          el('h3', { text: lang === 'zh' ? s.title_zh : s.title_en }),
          el.apply(null, ['ol', {}].concat((lang === 'zh' ? s.items_zh : s.items_en).map(function (i) {
            return el('li', { text: i });
          }))));
      }
      return [
        el('h2', { text: lang === 'zh' ? n.no_proxy.title_zh : n.no_proxy.title_en }),
        section('no_proxy', 'notice'),
        section('shooting', 'instructions'),
        el('label', { class: 'check', for: 'ack' }, box, el('span', { text: t('ack') })),
        go,
      ];
    }));
  }

  // -- 2. the SMS phone proof -----------------------------------------------------------

  function phoneView() {
    var masked = '';
    var wait = 0;
    client.sendSmsCode(qr, { preview: true }).then(function (p) {
      masked = p.mobile_masked;
      wait = p.resend_after_seconds;
      render();
    }, showError);
    var timer = null;
    function render() {
      show(named('phone', function () {
        var send = el('button', { type: 'button', id: 'send-code', class: 'secondary', text: t('send') });
        var input = el('input', { id: 'sms-code', inputmode: 'numeric', autocomplete: 'one-time-code',
          maxlength: '6', pattern: '[0-9]{6}', 'aria-describedby': 'sms-status' });
        var status = el('p', { id: 'sms-status', class: 'muted', 'aria-live': 'polite' });
        var verify = el('button', { type: 'button', id: 'verify', disabled: true, text: t('verify') });
        input.addEventListener('input', function () {
          input.value = input.value.replace(/\D/g, '').slice(0, 6);
          verify.disabled = input.value.length !== 6;
        });
        function tick() {
          if (wait > 0) {
            send.disabled = true;
            send.textContent = t('resend_in', wait);
            wait -= 1;
            timer = setTimeout(tick, 1000);
          } else {
            send.disabled = false;
            send.textContent = status.textContent ? t('resend') : t('send');
          }
        }
        cleanup.push(function () { clearTimeout(timer); });
        send.addEventListener('click', function () {
          send.disabled = true;
          clearError();
          client.sendSmsCode(qr).then(function (r) {
            status.textContent = t('sent');
            wait = r.resend_after_seconds;
            tick();
            input.focus();
          }, function (err) {
            showError(err);
            wait = err.code === 'SMS_RATE_LIMITED' && err.retryAfter ? err.retryAfter : 0;
            tick();
          });
        });
        verify.addEventListener('click', function () {
          verify.disabled = true;
          clearError();
          client.openSmsSession(qr, input.value, deviceId).then(function (opened) {
            session = opened;
            var at = sessionStorage.getItem(ACK);
            return client.acknowledge(['no_proxy', 'shooting'], at ? new Date(at) : new Date());
          }).then(function () { return route(); }, function (err) {
            showError(err);
            verify.disabled = false;
            if (err.code === 'SMS_CODE_EXPIRED') { input.value = ''; verify.disabled = true; }
          });
        });
        tick();
        return [
          el('h2', { text: t('phone_title') }),
          el('p', {}, t('phone_to'), el('span', { class: 'mobile', id: 'masked-mobile', text: masked || '…' })),
          el('p', { class: 'muted', text: t('phone_hint') }),
          send,
          status,
          el('div', { class: 'field' }, el('label', { for: 'sms-code', text: t('code_label') }), input),
          verify,
        ];
      }));
    }
    render();
  }

  // -- 3. the steps --------------------------------------------------------------------

  function route() {
    return client.session().then(function (s) {
      session = s;
      if (!s.next_step) return doneView();
      return stepsView();
    }, function (err) {
      if (err.code === 'SESSION_INVALID') {
        sessionStorage.removeItem(KEY);
        client.sessionToken = null;
        return noticeView();
      }
      showError(err);
    });
  }

  function stepsView() {
    show(named('steps', function () {
      var next = session.next_step;
      var items = session.steps.map(function (s) {
        var why = s.blocked_reason && !s.done ? ' — ' + t('blocked') + w(blockedEntry(s.blocked_reason), s.blocked_reason) : '';
        return el('li', { 'data-step': s.step },
          el('span', { text: stepTitle(s.step) + why }),
          el('span', { class: s.done ? 'done' : 'todo', text: s.done ? t('done_mark') : t('todo_mark') }));
      });
      var go = el('button', { type: 'button', id: 'go', 'data-step': next, text: t('start') + stepTitle(next) });
      go.addEventListener('click', function () { stepView(next); });
      return [el('h2', { text: t('steps_title') }), el.apply(null, ['ol', { class: 'steps' }].concat(items)), go];
    }));
  }

  function blockedEntry(zh) {
    // The session answers the Chinese reason; find its entry for the English text.
    var b = vocab.blocked;
    for (var k in b) if (b[k].zh === zh) return b[k];
    return null;
  }

  function stepView(step) {
    if (step === 'face') return faceView();
    return documentView(step);
  }

  // -- 4. a document step: camera with a framing guide, live pre-check, file fallback --

  function documentView(step) {
    show(named('document', function () {
      var video = el('video', { autoplay: true, playsinline: true, muted: true, 'aria-label': stepTitle(step) });
      var preview = el('img', { alt: stepTitle(step), hidden: true });
      var frame = el('div', { class: 'camera' }, video, preview, el('div', { class: 'guide', 'aria-hidden': 'true' }));
      var live = el('p', { class: 'live', id: 'live', 'aria-live': 'polite', text: t('live_wait') });
      var shoot = el('button', { type: 'button', id: 'shoot', text: t('shoot') });
      var use = el('button', { type: 'button', id: 'use', hidden: true, text: t('use') });
      var retake = el('button', { type: 'button', id: 'retake', class: 'secondary', hidden: true, text: t('retake') });
      var file = el('input', { type: 'file', id: 'file', accept: 'image/jpeg,image/png', 'aria-label': t('pick') });
      var pick = el('label', { class: 'button secondary filepick', for: 'file' }, t('pick'), file);
      var bar = el('progress', { class: 'progress', max: '1', value: '0', hidden: true, 'aria-label': t('uploading') });
      var chosen = null;
      var stream = null;
      var stopped = false;

      function choose(blob) {
        chosen = blob;
        preview.src = URL.createObjectURL(blob);
        preview.hidden = false;
        video.hidden = true;
        shoot.hidden = true;
        use.hidden = false;
        retake.hidden = false;
        use.focus();
      }
      function again() {
        chosen = null;
        preview.hidden = true;
        video.hidden = !stream;
        shoot.hidden = !stream;
        use.hidden = true;
        retake.hidden = true;
        file.value = '';
      }
      function grab(quality) {
        var c = document.createElement('canvas');
        c.width = video.videoWidth;
        c.height = video.videoHeight;
        c.getContext('2d').drawImage(video, 0, 0);
        return new Promise(function (r) { c.toBlob(r, 'image/jpeg', quality); });
      }
      // Live pre-check: one frame at a time while the camera shows, the check's own text.
      function loop() {
        if (stopped) return;
        if (!stream || chosen || !video.videoWidth) { setTimeout(loop, 800); return; }
        grab(0.85).then(function (blob) { return client.precheck(step, blob); }).then(function (r) {
          var failed = r.checks.filter(function (c) { return !c.passed; });
          live.className = 'live ' + (r.accepted ? 'ok' : 'bad');
          live.textContent = r.accepted ? t('live_ok') : failed.map(msg).join(' ');
          live.setAttribute('data-accepted', r.accepted ? 'true' : 'false');
        }, function (err) {
          live.className = 'live bad';
          live.textContent = lang === 'zh' ? err.message_zh : err.message_en;
        }).then(function () { if (!stopped) setTimeout(loop, 1500); });
      }
      cleanup.push(function () {
        stopped = true;
        if (stream) stream.getTracks().forEach(function (tr) { tr.stop(); });
      });
      if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
        navigator.mediaDevices.getUserMedia({
          video: { facingMode: 'environment', width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false,
        }).then(function (s) {
          if (stopped) { s.getTracks().forEach(function (tr) { tr.stop(); }); return; }
          stream = s;
          video.srcObject = s;
          loop();
        }, function () { noCamera(); });
      } else {
        noCamera();
      }
      function noCamera() {
        video.hidden = true;
        shoot.hidden = true;
        live.className = 'live';
        live.textContent = t('camera_off');
      }
      shoot.addEventListener('click', function () { grab(0.92).then(choose); });
      retake.addEventListener('click', again);
      file.addEventListener('change', function () { if (file.files[0]) choose(file.files[0]); });
      use.addEventListener('click', function () {
        use.disabled = retake.disabled = true;
        bar.hidden = false;
        clearError();
        client.capture(step, chosen, function (p) { bar.value = p; }).then(function (r) {
          if (r.accepted) return route();
          refused({ code: 'CAPTURE_REJECTED', message_zh: t('refused'), message_en: t('refused') }, r.checks);
        }, function (err) { refused(err); });
        function refused(err, checks) {
          showError(err, checks);
          use.disabled = retake.disabled = false;
          bar.hidden = true;
          // A refused photo is kept in view with its reasons: retake it. After a network
          // or busy error the same photo may be sent again.
          if (err.code === 'CAPTURE_REJECTED') use.hidden = true;
        }
      });
      return [
        el('h2', { text: stepTitle(step) }),
        el('p', { class: 'muted', text: step === 'verification_sheet' ? t('sheet_hint') : t('doc_hint') }),
        frame, live, bar, shoot, use, retake, pick,
      ];
    }));
  }

  // -- 5. the face: consent, then the challenge one action at a time -------------------

  function faceView() {
    show(named('consent', function () {
      var terms = session.face_consent;
      var box = el('input', { type: 'checkbox', id: 'consent' });
      var go = el('button', { type: 'button', id: 'consent-go', disabled: true, text: t('consent_go') });
      box.addEventListener('change', function () { go.disabled = !box.checked; });
      go.addEventListener('click', function () {
        go.disabled = true;
        client.challenge(terms, new Date()).then(recordView, function (err) { showError(err); go.disabled = false; });
      });
      return [
        el('h2', { text: t('face_title') }),
        el('div', { class: 'consent', id: 'consent-text', tabindex: '0', text: terms.text }),
        el('label', { class: 'check', for: 'consent' }, box, el('span', { text: t('consent_ack') })),
        go,
      ];
    }));
  }

  function recordView(ch) {
    show(named('face', function () {
      var digits = ch.steps.some(function (s) { return s.digits; });
      var video = el('video', { autoplay: true, playsinline: true, muted: true, class: 'mirrored', 'aria-label': t('face_title') });
      var prompt = el('div', { class: 'prompt', id: 'prompt', 'aria-live': 'assertive', hidden: true });
      var frame = el('div', { class: 'camera face' }, video, el('div', { class: 'guide', 'aria-hidden': 'true' }), prompt);
      var rec = el('button', { type: 'button', id: 'record', disabled: true, text: t('record') });
      var bar = el('progress', { class: 'progress', max: '1', value: '0', hidden: true, 'aria-label': t('uploading') });
      var flash = el('div', { class: 'flash', hidden: true, 'aria-hidden': 'true' });
      var stream = null;
      var timers = [];
      cleanup.push(function () {
        timers.forEach(clearTimeout);
        if (stream) stream.getTracks().forEach(function (tr) { tr.stop(); });
        flash.remove();
      });
      document.body.appendChild(flash);
      navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }, audio: digits,
      }).then(function (s) {
        stream = s;
        video.srcObject = s;
        rec.disabled = false;
      }, function (e) {
        showError({ message_zh: '无法打开前置摄像头,请允许使用相机后重试', message_en: 'The front camera cannot be opened: ' + e.name });
      });

      function say(step) {
        prompt.hidden = false;
        prompt.textContent = lang === 'zh' ? step.prompt_zh : step.prompt_en;
        prompt.setAttribute('data-action', step.action);
        if (step.digits) prompt.classList.add('digits'); else prompt.classList.remove('digits');
      }

      function record() {
        rec.disabled = true;
        rec.textContent = t('recording');
        var total = (ch.total_seconds + 0.6) * 1000;
        ch.steps.forEach(function (s) { timers.push(setTimeout(function () { say(s); }, s.start_s * 1000)); });
        (ch.flash || []).forEach(function (f) {
          timers.push(setTimeout(function () {
            flash.style.background = 'rgb(' + f.rgb.join(',') + ')';
            flash.hidden = false;
          }, f.start_s * 1000));
          timers.push(setTimeout(function () { flash.hidden = true; }, (f.start_s + f.duration_s) * 1000));
        });
        var done = typeof MediaRecorder !== 'undefined' ? recordVideo(total) : recordFrames(total);
        done.then(function (media) {
          prompt.hidden = true;
          bar.hidden = false;
          return client.captureFace(ch.challenge_id, media, { mirrored: false, onProgress: function (p) { bar.value = p; } });
        }).then(function (r) {
          if (r.accepted) return route();
          failedFace({ message_zh: t('refused'), message_en: t('refused') }, r.checks);
        }, function (err) { failedFace(err); });
      }

      function recordVideo(total) {
        var types = ['video/webm;codecs=vp8', 'video/webm', 'video/mp4'];
        var type = types.filter(function (x) { return MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(x); })[0];
        var mr = new MediaRecorder(stream, type ? { mimeType: type, videoBitsPerSecond: 1500000 } : undefined);
        var chunks = [];
        mr.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
        return new Promise(function (resolve) {
          mr.onstop = function () { resolve({ video: new Blob(chunks, { type: mr.mimeType || 'video/webm' }) }); };
          mr.start(500);
          timers.push(setTimeout(function () { mr.stop(); }, total));
        });
      }

      // Without MediaRecorder: timed JPEG frames (the API's `frames` + `timestamps`).
      function recordFrames(total) {
        var frames = [];
        var stamps = [];
        var t0 = performance.now();
        var startedAt = Date.now();
        var c = document.createElement('canvas');
        return new Promise(function (resolve) {
          function snap() {
            var now = performance.now() - t0;
            if (now > total) { resolve({ frames: frames, timestamps: stamps, capturedAt: startedAt }); return; }
            c.width = video.videoWidth;
            c.height = video.videoHeight;
            c.getContext('2d').drawImage(video, 0, 0);
            c.toBlob(function (b) { frames.push(b); stamps.push(Math.round(now)); timers.push(setTimeout(snap, 120)); }, 'image/jpeg', 0.85);
          }
          snap();
        });
      }

      function failedFace(err, checks) {
        showError(err, checks);
        bar.hidden = true;
        rec.textContent = t('face_retry');
        rec.disabled = false;
        rec.onclick = null;
        rec.removeEventListener('click', record);
        rec.addEventListener('click', function () { faceView(); }, { once: true });
      }

      rec.addEventListener('click', record);
      return [
        el('h2', { text: t('face_title') }),
        el('p', { class: 'muted', text: t('face_hint') + (digits ? ' ' + t('mic') : '') }),
        frame, bar, rec,
      ];
    }));
  }

  // -- 6. done -------------------------------------------------------------------------

  function doneView() {
    show(named('done', function () {
      var status = session.order.status;
      var complete = status === 'complete';
      return [
        el('p', { class: 'done-mark', 'aria-hidden': 'true', text: '✓' }),
        el('h2', { text: t('done_title') }),
        el('p', {}, complete ? t('done_text') : t('part_done'),
          el('strong', { id: 'order-status', 'data-status': status, text: w(vocab.statuses[status], session.order.status_zh) })),
        el('p', { class: 'muted', text: t('done_close') }),
      ];
    }));
  }

  // -- start ---------------------------------------------------------------------------

  function start() {
    applyChrome();
    if (!qr) { showError({ message_zh: UI.zh.no_token, message_en: UI.en.no_token }); return; }
    client.vocabulary().then(function (v) {
      vocab = v;
      if (client.sessionToken) return route();
      return noticeView();
    }, function (err) {
      showError(err);
      var again = el('button', { type: 'button', id: 'retry', text: t('retry') });
      again.addEventListener('click', start);
      document.getElementById('view').appendChild(again);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
