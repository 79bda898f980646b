// opsdesk flash messages: show the dismiss button and make it remove the message. The button
// is hidden in the HTML, so without JavaScript no control appears that does nothing; the
// message is shown once and is gone on the next page anyway.
(function () {
  "use strict";
  document.querySelectorAll("[data-flash-dismiss]").forEach(function (button) {
    var notice = button.closest(".flash");
    if (!notice) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      notice.remove();
      // The focused button is gone: put focus where reading goes on, not back at the top.
      var main = document.getElementById("main");
      if (main) {
        main.setAttribute("tabindex", "-1");
        main.focus();
      }
    });
  });
})();
