// opsdesk suggestions: while an incident is written, ask /api/v1/suggestions (debounced) and
// list known articles and similar incidents with why they matched. End users can end the
// report with "This solved it" on an article. Without JavaScript the form works as before.
(function () {
  "use strict";
  var panel = document.getElementById("suggestions");
  var title = document.getElementById("f-title");
  var description = document.getElementById("f-description");
  if (!panel || !title || !description || !window.fetch) {
    return;
  }
  var list = document.getElementById("suggestion-items");
  var status = document.getElementById("suggestion-status");
  var solvedForm = document.getElementById("solved-form");
  var endUser = panel.getAttribute("data-end-user") === "yes";
  var timer = null;
  var lastText = null;
  var asked = 0;

  function typed() {
    return (title.value + "\n" + description.value).trim();
  }

  function node(tag, className, text) {
    var element = document.createElement(tag);
    if (className) {
      element.className = className;
    }
    if (text !== undefined) {
      element.textContent = text;
    }
    return element;
  }

  function solvedButton(item) {
    var form = solvedForm.content.firstElementChild.cloneNode(true);
    form.querySelector('input[name="article_id"]').value = String(item.id);
    var button = form.querySelector("button");
    button.setAttribute("aria-label", "This solved it: " + item.title);
    form.addEventListener("submit", function () {
      form.querySelector('input[name="title"]').value = title.value;
      form.querySelector('input[name="description"]').value = description.value;
    });
    return form;
  }

  function entry(item) {
    var li = node("li", "suggestion");
    li.id = "suggestion-" + item.kind + "-" + item.id;
    var head = node("div", "suggestion-head");
    head.appendChild(
      node("span", "badge badge-small suggestion-kind", item.kind === "article" ? "Article" : "Incident")
    );
    var link = node("a", "", item.kind === "incident" ? item.number + " " + item.title : item.title);
    link.href = item.url;
    head.appendChild(link);
    head.appendChild(node("span", "suggestion-score", "score " + item.score.toFixed(2)));
    li.appendChild(head);
    var why = node("p", "suggestion-why");
    why.appendChild(node("span", "muted", "Matched: "));
    if (item.matched.length === 0) {
      why.appendChild(node("span", "muted", "similar meaning"));
    }
    item.matched.forEach(function (word, index) {
      if (index > 0) {
        why.appendChild(document.createTextNode(", "));
      }
      why.appendChild(node("mark", "", word));
    });
    li.appendChild(why);
    if (item.passage) {
      li.appendChild(node("p", "suggestion-passage", "\u201c" + item.passage + "\u201d"));
    }
    if (item.kind === "article" && item.workaround) {
      var fix = node("div", "suggestion-workaround");
      fix.appendChild(node("strong", "", "Workaround: "));
      fix.appendChild(document.createTextNode(item.workaround));
      li.appendChild(fix);
      if (endUser) {
        li.appendChild(solvedButton(item));
      }
    }
    return li;
  }

  function show(body) {
    list.textContent = "";
    body.items.forEach(function (item) {
      list.appendChild(entry(item));
    });
    if (body.items.length === 0) {
      status.textContent = "No known solution matches yet.";
    } else {
      status.textContent =
        body.items.length + (body.items.length === 1 ? " suggestion" : " suggestions") +
        (endUser ? ": if one solves your problem, you need not submit." : ".");
    }
  }

  function ask() {
    var text = typed();
    if (text === lastText) {
      return;
    }
    lastText = text;
    panel.hidden = false;
    if (text.length < 3) {
      list.textContent = "";
      return;
    }
    var mine = ++asked;
    var url = "/api/v1/suggestions?limit=5&typing=true&text=" + encodeURIComponent(text.slice(0, 2000));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        return answer.ok ? answer.json() : null;
      })
      .then(function (body) {
        if (body && mine === asked) {
          show(body);
        }
      })
      .catch(function () {
        status.textContent = "Suggestions are not available right now.";
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  }

  panel.hidden = false;
  title.addEventListener("input", later);
  description.addEventListener("input", later);
  if (typed()) {
    ask();
  }
})();
