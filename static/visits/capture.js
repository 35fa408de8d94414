/* Visits on the phone: position for 开始拜访, and voice memos recorded in the browser.
   Loaded as a file with the page's CSP nonce; no inline handlers. Pages work without it. */
(function () {
  "use strict";

  // 开始拜访: send the phone's position (WGS-84) with the form; never block the visit on it.
  document.querySelectorAll("form.geo-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var lat = form.querySelector("input[name=latitude]");
      var lon = form.querySelector("input[name=longitude]");
      if (!lat || !lon || lat.value || !navigator.geolocation || form.dataset.located) { return; }
      event.preventDefault();
      var done = function () { form.dataset.located = "1"; form.submit(); };
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        done();
      }, done, { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
    });
  });

  // Voice memo: record with MediaRecorder, upload as a file to the module's upload URL.
  if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  document.querySelectorAll(".record-button").forEach(function (button) {
    var form = button.closest("form");
    var status = form.querySelector(".record-status");
    var labels = button.dataset;  // translated by the server (data-label-*)
    var recorder = null;
    var chunks = [];
    button.closest(".recorder").hidden = false;

    function upload(blob) {
      var type = blob.type || "audio/webm";
      var extension = type.indexOf("mp4") >= 0 ? ".m4a" : type.indexOf("ogg") >= 0 ? ".ogg" : ".webm";
      var data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
      data.append("file", new File([blob], "memo" + extension, { type: type }));
      status.textContent = labels.labelUploading;
      fetch(button.dataset.url, { method: "POST", body: data, headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
        .then(function (result) {
          if (result.ok) { window.location.reload(); return; }
          var errors = result.body.errors || {};
          status.textContent = Object.keys(errors).map(function (key) { return errors[key].join(" "); }).join(" ") || labels.labelFailed;
        })
        .catch(function () { status.textContent = labels.labelNetwork; });
    }

    button.addEventListener("click", function () {
      if (recorder && recorder.state === "recording") { recorder.stop(); return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.addEventListener("dataavailable", function (event) { if (event.data.size) { chunks.push(event.data); } });
        recorder.addEventListener("stop", function () {
          stream.getTracks().forEach(function (track) { track.stop(); });
          button.textContent = labels.labelRecord;
          upload(new Blob(chunks, { type: recorder.mimeType }));
        });
        recorder.start(250);
        button.textContent = labels.labelStop;
        var started = Date.now();
        var tick = function () {
          var seconds = Math.floor((Date.now() - started) / 1000);
          status.textContent = labels.labelRecording + " " + Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
        };
        tick();
        var timer = window.setInterval(tick, 500);
        recorder.addEventListener("stop", function () { window.clearInterval(timer); });
      }).catch(function () { status.textContent = labels.labelNoMicrophone; });
    });
  });
})();
