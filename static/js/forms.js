// Small helpers of the management pages (_manage_base.html, studies/_admin_base.html); every page
// works without them. Listeners sit on the document, so parts that htmx swaps in are covered too.

// "All" / "None" beside long checkbox lists (templates/_form_field.html).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-toggle-all]");
  if (!button) return;
  var on = button.dataset.toggleAll === "on";
  document.querySelectorAll("#" + button.dataset.target + " input[type=checkbox]").forEach(function (box) {
    if (!box.disabled) box.checked = on;
  });
  // Previews that follow the form's changes (hx-trigger="change") follow these too.
  button.dispatchEvent(new Event("change", { bubbles: true }));
});

// "Copy" beside a read-only field (studies/_invitations_panel.html): data-copy names the field.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.dataset.copy);
  field.select();
  (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject()).then(
    function () { button.textContent = "Copied"; }, function () { document.execCommand("copy"); });
});

// Forms that destroy something ask first: data-confirm holds the question.
document.addEventListener("submit", function (event) {
  var question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
