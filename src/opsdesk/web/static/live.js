// opsdesk live updates: poll a small endpoint with If-None-Match; when its tag changes,
// fetch this page again and swap the parts marked data-live-region. Without JavaScript the
// pages work by reload; this only spares the reload.
(function () {
  "use strict";
  var marker = document.getElementById("live-updates");
  if (!marker || !window.fetch || !window.DOMParser) {
    return;
  }
  var pollUrl = marker.getAttribute("data-live-poll");
  var interval = parseInt(marker.getAttribute("data-live-interval") || "4000", 10);
  var status = document.getElementById("live-status");
  var etag = null;
  var firstTag = null;

  function checkedNumbers() {
    var picked = {};
    document.querySelectorAll('input[name="numbers"]:checked').forEach(function (box) {
      picked[box.value] = true;
    });
    return picked;
  }

  function swapRegions(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var picked = checkedNumbers();
    var swapped = 0;
    document.querySelectorAll("[data-live-region]").forEach(function (old) {
      if (!old.id || old.contains(document.activeElement)) {
        return; // never pull a half-typed form from under the user
      }
      var replacement = fresh.getElementById(old.id);
      if (replacement) {
        old.replaceWith(document.importNode(replacement, true));
        swapped += 1;
      }
    });
    document.querySelectorAll('input[name="numbers"]').forEach(function (box) {
      box.checked = !!picked[box.value];
    });
    if (swapped && status) {
      status.textContent = "Updated " + new Date().toLocaleTimeString();
    }
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" }).then(function (answer) {
      if (answer.ok) {
        return answer.text().then(swapRegions);
      }
    });
  }

  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(pollUrl, { credentials: "same-origin", headers: headers, cache: "no-cache" })
      .then(function (answer) {
        if (answer.status !== 200) {
          return null;
        }
        etag = answer.headers.get("ETag");
        return answer.json();
      })
      .then(function (body) {
        if (!body) {
          return null;
        }
        if (firstTag === null) {
          firstTag = body.tag;
          return null;
        }
        if (body.tag !== firstTag) {
          firstTag = body.tag;
          return refresh();
        }
        return null;
      })
      .catch(function () {
        // offline for a moment: try again at the next tick
      })
      .then(function () {
        window.setTimeout(poll, interval);
      });
  }

  poll();
})();
