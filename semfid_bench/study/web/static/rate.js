// Keyboard answers on the rating page: left arrow or n = no change, right arrow or y = change.
"use strict";
(function () {
  const form = document.getElementById("answer-form");
  if (!form) return;
  const buttons = { no: document.getElementById("answer-no"), yes: document.getElementById("answer-yes") };
  const keys = { ArrowLeft: "no", n: "no", N: "no", ArrowRight: "yes", y: "yes", Y: "yes" };
  let sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) event.preventDefault();
    sent = true;
  });
  window.addEventListener("pageshow", function () { sent = false; });
  document.addEventListener("keydown", function (event) {
    const answer = keys[event.key];
    if (!answer || sent || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    form.requestSubmit(buttons[answer]);
  });
})();
