/* The capture screen (U2, U3): every form marked data-capture is saved in place.

   A capture is first written to IndexedDB with its own key, the time and the phone's position,
   shown as "待上传", then sent in order (XMLHttpRequest: upload progress) with HX-Request so the
   server answers with the module's fragment (and the lock, out of band). Without a network the
   queue waits and is sent when the browser is back online; the server stores each key once.
   Photos are compressed on the phone (canvas; long edge and quality from data- attributes) with
   their EXIF kept. A voice memo stays in IndexedDB until the server has confirmed it.
   Loaded as a file with the page's CSP nonce; no inline handlers. Pages work without it. */
(function () {
  "use strict";

  var script = document.currentScript;
  var labels = script ? script.dataset : {};
  var DB_NAME = "salesops-capture";
  var STORE = "queue";
  var position = null;
  var flushing = false;
  var memoryQueue = [];  // when IndexedDB is unavailable (private mode): this page's lifetime only

  // --- IndexedDB ------------------------------------------------------------------------------

  var dbPromise = null;
  function db() {
    if (!window.indexedDB) { return Promise.reject(new Error("no indexedDB")); }
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true }); };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function store(mode, work) {
    return db().then(function (database) {
      return new Promise(function (resolve, reject) {
        var tx = database.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  function queueAdd(item) {
    return store("readwrite", function (s) { return s.add(item); }).catch(function () {
      item.seq = Date.now() + Math.random();
      memoryQueue.push(item);
      return item.seq;
    });
  }
  function queueAll() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).concat(memoryQueue);
    }, function () { return memoryQueue.slice(); });
  }
  function queueDelete(seq) {
    memoryQueue = memoryQueue.filter(function (item) { return item.seq !== seq; });
    return store("readwrite", function (s) { return s.delete(seq); }).catch(function () {});
  }

  // --- Helpers --------------------------------------------------------------------------------

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function pad(n) { return String(n).padStart(2, "0"); }
  function clock(iso) { var d = new Date(iso); return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }

  function locate() {
    if (!navigator.geolocation) { return; }
    navigator.geolocation.getCurrentPosition(function (found) {
      position = { latitude: found.coords.latitude.toFixed(6), longitude: found.coords.longitude.toFixed(6) };
    }, function () {}, { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
  }

  // --- Photo compression (EXIF kept) ------------------------------------------------------------

  function readBuffer(blob) {
    if (blob.arrayBuffer) { return blob.arrayBuffer(); }
    return new Promise(function (resolve) { var r = new FileReader(); r.onload = function () { resolve(r.result); }; r.readAsArrayBuffer(blob); });
  }

  // The APP1 "Exif" segment of a JPEG, with its orientation set to 1 (the canvas drew it upright).
  function exifSegment(buffer) {
    var view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) { return null; }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
      var length = view.getUint16(offset + 2);
      if (marker === 0xFFE1 && view.getUint32(offset + 4) === 0x45786966) {  // "Exif"
        var segment = buffer.slice(offset, offset + 2 + length);
        resetOrientation(new DataView(segment));
        return segment;
      }
      offset += 2 + length;
    }
    return null;
  }

  function resetOrientation(view) {
    var tiff = 10;  // FFE1, length, "Exif\0\0"
    if (view.byteLength < tiff + 8) { return; }
    var little = view.getUint16(tiff) === 0x4949;
    var ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > view.byteLength) { return; }
    var count = view.getUint16(ifd, little);
    for (var i = 0; i < count; i++) {
      var entry = ifd + 2 + i * 12;
      if (entry + 12 > view.byteLength) { return; }
      if (view.getUint16(entry, little) === 0x0112) { view.setUint16(entry + 8, 1, little); return; }
    }
  }

  function compress(file, maxEdge, quality) {
    if (!file || !/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var longest = Math.max(bitmap.width, bitmap.height);
      var scale = Math.min(1, maxEdge / longest);
      if (scale === 1 && file.type === "image/jpeg" && file.size < 1024 * 1024) { return file; }  // small already
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); }).then(function (blob) {
        if (!blob || blob.size >= file.size) { return file; }
        if (file.type !== "image/jpeg") { return blob; }
        return Promise.all([readBuffer(file), readBuffer(blob)]).then(function (buffers) {
          var exif = exifSegment(buffers[0]);
          if (!exif) { return blob; }
          return new Blob([buffers[1].slice(0, 2), exif, buffers[1].slice(2)], { type: "image/jpeg" });
        });
      });
    }).catch(function () { return file; });
  }

  // --- Queue ------------------------------------------------------------------------------------

  function targetOf(form) {
    var holder = form.closest("[id^=module-], #notes, #lock, #visit-head");
    return holder ? holder.id : "";
  }

  function enqueue(form, overrides) {
    var data = new FormData(form);
    var fields = [];
    var pending = [];
    var maxEdge = parseInt(form.dataset.maxEdge || "0", 10);
    var quality = parseFloat(form.dataset.quality || "0.85");
    data.forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken" || name === "latitude" || name === "longitude") { return; }
      if (overrides && name in overrides) { return; }
      if (value instanceof Blob) {
        if (!value.size && !value.name) { return; }  // an empty file input
        var entry = { name: name, filename: value.name || "upload", blob: value };
        fields.push(entry);
        if (maxEdge) {
          pending.push(compress(value, maxEdge, quality).then(function (blob) {
            entry.blob = blob;
            if (blob !== value && blob.type === "image/jpeg") { entry.filename = (value.name || "photo").replace(/\.[^.]*$/, "") + ".jpg"; }
          }));
        }
      } else {
        fields.push({ name: name, value: value });
      }
    });
    Object.keys(overrides || {}).forEach(function (name) {
      var value = overrides[name];
      fields.push(value instanceof Blob ? { name: name, filename: value.name || "upload", blob: value } : { name: name, value: value });
    });
    var item = {
      key: newKey(),
      url: form.getAttribute("action"),
      page: window.location.pathname,
      target: targetOf(form),
      label: form.dataset.captureLabel || "",
      captured_at: new Date().toISOString(),
      latitude: position ? position.latitude : "",
      longitude: position ? position.longitude : "",
      csrf: (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "",
      fields: fields
    };
    return Promise.all(pending).then(function () { return queueAdd(item); }).then(function () {
      // The file is in the queue now: clear the input so a second pick is a new capture.
      form.querySelectorAll("input[type=file]").forEach(function (input) { input.value = ""; });
      render();
      flush();
    });
  }

  function render() {
    return queueAll().then(function (items) {
      var mine = items.filter(function (item) { return item.page === window.location.pathname; });
      document.querySelectorAll("[data-queue-for]").forEach(function (list) { list.textContent = ""; });
      mine.forEach(function (item) {
        var list = document.querySelector('[data-queue-for="' + item.target + '"]');
        if (!list) { return; }
        var row = document.createElement("li");
        row.className = "queued";
        row.dataset.key = item.key;
        row.textContent = "⏳ " + (labels.labelPending || "待上传") + " · " + item.label + " · " + clock(item.captured_at) + (item.error ? " · " + item.error : "");
        list.appendChild(row);
      });
      var summary = document.getElementById("capture-queue-summary");
      if (summary) {
        summary.hidden = !mine.length;
        summary.textContent = mine.length ? mine.length + " " + (labels.labelQueued || "") : "";
      }
      return mine;
    });
  }

  function swap(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    Array.prototype.slice.call(template.content.children).forEach(function (incoming) {
      if (!incoming.id) { return; }
      var current = document.getElementById(incoming.id);
      if (!current) { return; }
      incoming.removeAttribute("hx-swap-oob");
      // Someone is typing in it: keep what they type, show only the result.
      var typing = document.activeElement && document.activeElement.matches("textarea, input:not([type=file]):not([type=hidden]):not([type=submit]):not([type=button])");
      if (typing && current.contains(document.activeElement) && incoming.querySelector("form")) {
        var result = incoming.querySelector(".result");
        var old = current.querySelector(".result");
        if (old) { old.remove(); }
        if (result) { current.querySelector("h2").after(result); }
        return;
      }
      current.replaceWith(incoming);
      if (window.htmx) { window.htmx.process(incoming); }
      bind(incoming);
    });
  }

  function progressOf(item) {
    var holder = document.getElementById(item.target);
    return holder ? holder.querySelector(".upload-progress") : null;
  }

  function send(item) {
    return new Promise(function (resolve) {
      var body = new FormData();
      item.fields.forEach(function (field) {
        if (field.blob) { body.append(field.name, field.blob, field.filename); } else { body.append(field.name, field.value); }
      });
      body.append("capture_key", item.key);
      body.append("captured_at", item.captured_at);
      if (item.latitude) { body.append("latitude", item.latitude); body.append("longitude", item.longitude); }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", item.url);
      xhr.setRequestHeader("HX-Request", "true");
      xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken") || item.csrf);
      var bar = progressOf(item);
      if (bar) { bar.hidden = false; bar.value = 0; }
      xhr.upload.addEventListener("progress", function (event) {
        if (bar && event.lengthComputable) { bar.value = Math.round((event.loaded / event.total) * 100); }
      });
      xhr.onload = function () { if (bar) { bar.hidden = true; } resolve({ status: xhr.status, text: xhr.responseText, url: xhr.responseURL }); };
      xhr.onerror = xhr.ontimeout = function () { if (bar) { bar.hidden = true; } resolve({ status: 0 }); };
      xhr.timeout = 120000;
      xhr.send(body);
    });
  }

  var again = false;
  function flush() {
    if (flushing) { again = true; return Promise.resolve(); }  // the running loop looks once more
    flushing = true;
    again = false;
    var step = function () {
      return queueAll().then(function (items) {
        items.sort(function (a, b) { return a.seq - b.seq; });
        var item = items[0];
        if (!item) { return; }
        return send(item).then(function (answer) {
          if (answer.status === 0 || answer.status >= 500 || answer.status === 429) { return "wait"; }  // offline or server busy
          if (answer.url && answer.url.indexOf("/accounts/login/") >= 0) {
            var summary = document.getElementById("capture-queue-summary");
            if (summary) { summary.hidden = false; summary.textContent = labels.labelLogin || ""; }
            return "wait";
          }
          // 2xx, 400 (named field errors), 409 (lock): the server has answered; show it, drop it.
          if (item.page === window.location.pathname && answer.text) { swap(answer.text); }
          return queueDelete(item.seq).then(step);
        });
      });
    };
    var done = function () {
      flushing = false;
      if (again) { return flush(); }
      return render();
    };
    return step().then(done, function () { flushing = false; });
  }

  // 开始拜访 elsewhere (workbench): send the phone's position with the form; never block on it.
  document.querySelectorAll("form.geo-form:not([data-capture])").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var lat = form.querySelector("input[name=latitude]");
      var lon = form.querySelector("input[name=longitude]");
      if (!lat || !lon || lat.value || !navigator.geolocation || form.dataset.located) { return; }
      event.preventDefault();
      var done = function () { form.dataset.located = "1"; form.submit(); };
      navigator.geolocation.getCurrentPosition(function (found) {
        lat.value = found.coords.latitude.toFixed(6);
        lon.value = found.coords.longitude.toFixed(6);
        done();
      }, done, { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
    });
  });

  // --- Wiring -----------------------------------------------------------------------------------

  function bind(root) {
    root.querySelectorAll("form[data-capture] input[type=file]").forEach(function (input) {
      if (input.dataset.bound) { return; }
      input.dataset.bound = "1";
      input.addEventListener("change", function () { if (input.files && input.files.length) { input.form.requestSubmit(); } });
    });
    root.querySelectorAll("form[data-autosave]").forEach(function (form) {
      if (form.dataset.bound) { return; }
      form.dataset.bound = "1";
      form.addEventListener("change", function () { form.requestSubmit(); });
    });
    bindRecorders(root);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-capture]")) { return; }
    event.preventDefault();
    event.stopPropagation();  // htmx (the fallback) does not send it a second time
    enqueue(form);
  }, true);

  window.addEventListener("online", function () { flush(); });
  window.setInterval(function () { if (navigator.onLine !== false) { flush(); } }, 15000);
  locate();
  bind(document);
  render().then(function (items) { if (items.length) { flush(); } });

  // --- Voice memo: kept in IndexedDB until the server confirms ------------------------------------

  function bindRecorders(root) {
    if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
    root.querySelectorAll(".record-button").forEach(function (button) {
      if (button.dataset.bound) { return; }
      button.dataset.bound = "1";
      var form = button.closest("form");
      var status = form.querySelector(".record-status");
      var text = button.dataset;  // translated by the server (data-label-*)
      var recorder = null;
      var chunks = [];
      button.closest(".recorder").hidden = false;

      button.addEventListener("click", function () {
        if (recorder && recorder.state === "recording") { recorder.stop(); return; }
        navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
          chunks = [];
          recorder = new MediaRecorder(stream);
          recorder.addEventListener("dataavailable", function (event) { if (event.data.size) { chunks.push(event.data); } });
          recorder.addEventListener("stop", function () {
            stream.getTracks().forEach(function (track) { track.stop(); });
            button.textContent = text.labelRecord;
            status.textContent = "";
            var type = recorder.mimeType || "audio/webm";
            var extension = type.indexOf("mp4") >= 0 ? ".m4a" : type.indexOf("ogg") >= 0 ? ".ogg" : ".webm";
            enqueue(form, { file: new File([new Blob(chunks, { type: type })], "memo" + extension, { type: type }) });
          });
          recorder.start(250);
          button.textContent = text.labelStop;
          var started = Date.now();
          var tick = function () {
            var seconds = Math.floor((Date.now() - started) / 1000);
            status.textContent = text.labelRecording + " " + Math.floor(seconds / 60) + ":" + pad(seconds % 60);
          };
          tick();
          var timer = window.setInterval(tick, 500);
          recorder.addEventListener("stop", function () { window.clearInterval(timer); });
        }).catch(function () { status.textContent = text.labelNoMicrophone; });
      });
    });
  }

  // Only for tests and the curious: the queue as the page sees it.
  window.salesopsCapture = { queue: queueAll, flush: flush };
})();
