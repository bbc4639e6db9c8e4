// Time spent on a matchup page goes with the answers (the server clamps it); nothing else is measured.
(function () {
  var started = performance.now();
  document.getElementById("answers").addEventListener("submit", function (event) {
    event.target.elements.elapsed_ms.value = Math.round(performance.now() - started);
  });
})();
