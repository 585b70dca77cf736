// PulseStream console: the few things a server-rendered page cannot do.
// No inline scripts (the Content-Security-Policy forbids them); every
// text from an event is set with textContent, never as HTML.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // The first-run setup link carries its token in the URL fragment
  // (#<token>, or #token=<token>), which never reaches the server: copy
  // it into the field.
  document.querySelectorAll("input[data-from-fragment]").forEach(function (input) {
    var hash = window.location.hash.slice(1);
    var v = hash.indexOf("=") < 0 ? hash : new URLSearchParams(hash).get(input.getAttribute("data-from-fragment"));
    if (v && !input.value) { input.value = decodeURIComponent(v); }
  });

  var toggle = document.getElementById("tail-toggle");
  if (toggle) { startTail(toggle); }
});

var MAX_ROWS = 500;

function startTail(toggle) {
  var rows = document.getElementById("tail-rows");
  var status = document.getElementById("tail-status");
  var tenant = toggle.getAttribute("data-tenant");
  var paused = false;
  var received = 0, dropped = 0, held = [];
  var source = new EventSource(toggle.getAttribute("data-stream"));

  function say() {
    status.textContent = (paused ? "Paused" : "Live") + " · " + received + " received" +
      (dropped ? " · " + dropped + " not shown (too many per second)" : "") +
      (held.length ? " · " + held.length + " waiting" : "");
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function show(ev) {
    var tr = document.createElement("tr");
    var td = document.createElement("td");
    var a = document.createElement("a");
    a.href = "/t/" + encodeURIComponent(tenant) + "/events/" + encodeURIComponent(ev.id);
    a.textContent = ev.timestamp.replace("T", " ").replace("Z", "");
    td.appendChild(a);
    tr.appendChild(td);
    var sev = cell(tr, "");
    var span = document.createElement("span");
    span.className = "sev sev-" + String(ev.severity).replace(/[^a-z]/g, "");
    span.textContent = ev.severity;
    sev.appendChild(span);
    cell(tr, ev.service || "");
    cell(tr, ev.event_type || "");
    cell(tr, ev.status_code ? String(ev.status_code) : "");
    cell(tr, ev.message || "").className = "msg";
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > MAX_ROWS) { rows.removeChild(rows.lastChild); }
  }

  source.addEventListener("open", say);
  source.addEventListener("error", function () { status.textContent = "Reconnecting…"; });
  source.addEventListener("event", function (msg) {
    var ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    received++;
    if (paused) {
      held.push(ev);
      if (held.length > MAX_ROWS) { held.shift(); dropped++; }
    } else {
      show(ev);
    }
    say();
  });
  source.addEventListener("dropped", function (msg) {
    try { dropped += JSON.parse(msg.data).dropped || 0; } catch (e) { /* ignore */ }
    say();
  });
  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.textContent = paused ? "Resume" : "Pause";
    if (!paused) { held.forEach(show); held = []; }
    say();
  });
  say();
}
