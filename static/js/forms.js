// "All" / "None" beside long checkbox lists (templates/_form_field.html); the lists work without it.
document.querySelectorAll("[data-toggle-all]").forEach(function (button) {
  button.addEventListener("click", function () {
    var on = button.dataset.toggleAll === "on";
    document.querySelectorAll("#" + button.dataset.target + " input[type=checkbox]").forEach(function (box) {
      if (!box.disabled) box.checked = on;
    });
  });
});
