// The stakeholder update composer: when the state changes and the message is still one of
// the templates' starting texts (not edited), start from the new state's text instead.
(function () {
  "use strict";
  var state = document.getElementById("status-update-state");
  var message = document.getElementById("status-update-message");
  if (!state || !message) {
    return;
  }
  function prefill(key) {
    return message.getAttribute("data-prefill-" + key);
  }
  state.addEventListener("change", function () {
    var untouched = Array.prototype.some.call(state.options, function (option) {
      return prefill(option.value) === message.value;
    });
    var next = prefill(state.value);
    if (untouched && next !== null) {
      message.value = next;
    }
  });
})();
