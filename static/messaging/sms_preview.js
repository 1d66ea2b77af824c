// Live preview of a text (the plan page's "Preview a text" box): it is rendered
// server-side for a sample contact on every pause in typing, with its encoding and
// segments. A static file, not an inline script: the site's Content-Security-Policy
// allows only its own scripts.
(function () {
  "use strict";
  var body = document.getElementById("sms-preview-input");
  if (!body) { return; }
  var form = body.form;
  var out = document.getElementById("sms-preview-body");
  var stats = document.querySelector("#sms-preview-stats strong");
  var contact = document.getElementById("sms-preview-contact");
  var err = document.getElementById("sms-preview-error");
  var box = document.getElementById("sms-preview");
  var url = box.dataset.previewUrl;
  var state = document.getElementById("sms-preview-state");
  var hold = document.getElementById("sms-preview-hold");
  var channel = document.getElementById("sms-preview-channel");
  var channelNote = document.getElementById("sms-preview-channel-note");
  var timer = null, seq = 0;

  function show(data) {
    if (data.ok) {
      err.hidden = true;
      out.textContent = data.body;
      contact.textContent = "Rendered for " + data.contact + ".";
      // An MMS and a WhatsApp message are one message whatever their length.
      stats.textContent = (data.segments_apply === false
        ? data.channel_label + " · " + data.characters + " characters · 1 message (segments do not apply)"
        : data.encoding_label + " · " + data.units + " " +
          (data.encoding === "gsm7" ? "septets" : "UTF-16 units") + " · " +
          data.segments + (data.segments === 1 ? " segment" : " segments") +
          (data.segments > 1 ? " (" + data.per_segment + " per segment)" : "") +
          (data.non_gsm_chars.length ? " · not GSM-7: " + data.non_gsm_chars.join(" ") : "")) +
        (data.links ? " · " + data.links + (data.links === 1 ? " link" : " links") + " sent as tracked" : "") +
        (data.links_note ? " · " + data.links_note : "");
      if (channelNote) { channelNote.textContent = data.channel_note || ""; }
      if (hold) {
        hold.textContent = data.hold && data.hold.held
          ? "Sent now as a marketing text, it would be held until " + data.hold.until + ": " + data.hold.because + "."
          : "Sent now as a marketing text, it would go at once.";
      }
    } else {
      err.hidden = false;
      err.firstElementChild.textContent = data.error;
      stats.textContent = "";
    }
  }

  function refresh() {
    var mine = ++seq;
    var data = new FormData();
    data.append("body", body.value);
    if (state) { data.append("state", state.value); }
    if (channel) { data.append("channel", channel.value); }
    if (box.dataset.trackLinks === "1") { data.append("track_links", "1"); }
    data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    fetch(url, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (d) { if (mine === seq) { show(d); } })
      .catch(function () { /* the preview is a help, never a blocker */ });
  }

  if (state) { state.addEventListener("change", refresh); }
  if (channel) { channel.addEventListener("change", refresh); }
  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  refresh();
})();
