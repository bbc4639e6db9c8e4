// Flash messages (templates/_base.html): each can be closed; confirmations and notes go by themselves
// after a while (errors stay until closed); and none survives the page being shown again from the
// browser's history, where it would describe something that happened before.
(function () {
  var list = document.querySelector("[data-messages]");
  if (!list) return;
  function drop(item) {
    item.remove();
    if (!list.querySelector("li")) list.remove();
  }
  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) drop(button.closest("li"));
  });
  list.querySelectorAll("li:not(.error):not(.warning)").forEach(function (item) {
    setTimeout(function () { if (item.isConnected) drop(item); }, 8000);
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && list.isConnected) list.remove();
  });
})();
