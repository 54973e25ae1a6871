/*
 * Tallybook: send events from a web page.
 *
 *   <script src="https://tallybook.example.com/events/v2/tallybook.js"></script>
 *   <script>
 *     var tallybook = Tallybook.create({ organization_id: "<your organisation's id>" });
 *     tallybook.send({ vendor: "com.example.shop", category: "cart", action: "add", label: "sku-1" });
 *   </script>
 *
 * Events sent within one tick go out together, as one batch, to /events/v2/store/untrusted:
 * with navigator.sendBeacon (it outlives the page), else fetch with keepalive. Each event
 * gets an id, so a batch sent twice is stored once, and the time it was sent. Plain
 * ES5 with no dependencies and no build step.
 */
(function (global) {
  "use strict";

  var MAX_BODY_BYTES = 60000; // sendBeacon and keepalive fetch carry at most 64 KiB at a time
  var script = global.document && global.document.currentScript;
  var scriptOrigin = script && script.src ? new URL(script.src).origin : undefined;

  function uuid() {
    var crypto = global.crypto;
    if (crypto && crypto.randomUUID) return crypto.randomUUID();
    if (!crypto || !crypto.getRandomValues) return undefined; // the server then stores it as is
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(b, function (x) { return (x + 0x100).toString(16).slice(1); })
      .join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function byteLength(text) {
    return global.TextEncoder ? new TextEncoder().encode(text).length : text.length * 3;
  }

  /* Bodies of at most MAX_BODY_BYTES (one bigger event goes alone). */
  function bodies(events) {
    var result = [];
    var batch = [];
    var size = 0;
    events.forEach(function (event) {
      var bytes = byteLength(JSON.stringify(event)) + 1;
      if (batch.length && size + bytes > MAX_BODY_BYTES) {
        result.push(batch);
        batch = [];
        size = 0;
      }
      batch.push(event);
      size += bytes;
    });
    if (batch.length) result.push(batch);
    return result.map(function (batch) { return JSON.stringify({ events: batch }); });
  }

  function post(endpoint, body) {
    var small = byteLength(body) <= MAX_BODY_BYTES;
    // A string body is text/plain: no CORS preflight, and the server reads it as JSON.
    if (small && global.navigator && navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) {
      return;
    }
    if (!global.fetch) return;
    global
      .fetch(endpoint, {
        method: "POST",
        body: body,
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        credentials: "omit",
        keepalive: small,
      })
      .catch(function () {}); // nothing a page could do; the events' ids make a retry safe
  }

  function create(options) {
    options = options || {};
    var base = (options.url || scriptOrigin || "").replace(/\/+$/, "");
    var endpoint = base + "/events/v2/store/untrusted";
    var defaults = options.defaults || {};
    var queue = [];
    var scheduled = false;

    function flush() {
      scheduled = false;
      if (!queue.length) return;
      var events = queue;
      queue = [];
      bodies(events).forEach(function (body) { post(endpoint, body); });
    }

    function send(event) {
      var full = { event_version: 1, organization_id: options.organization_id };
      var key;
      for (key in defaults) if (Object.prototype.hasOwnProperty.call(defaults, key)) full[key] = defaults[key];
      for (key in event) if (Object.prototype.hasOwnProperty.call(event, key)) full[key] = event[key];
      if (full.id === undefined) full.id = uuid();
      if (full.timestamp === undefined) full.timestamp = new Date().toISOString();
      queue.push(full);
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 0);
      }
    }

    // A page being hidden or left may never run another tick: send what is waiting now.
    if (global.addEventListener) {
      global.addEventListener("pagehide", flush);
      global.document.addEventListener("visibilitychange", function () {
        if (global.document.visibilityState === "hidden") flush();
      });
    }
    return { send: send, flush: flush, endpoint: endpoint };
  }

  global.Tallybook = { create: create };
})(typeof window !== "undefined" ? window : this);
