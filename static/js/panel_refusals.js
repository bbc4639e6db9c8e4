/* A panel refused for bad input (400) comes back with the reason in it: swap it in like a success, so the
 * message shows where the inputs are. Other errors keep htmx's default. */
(function () {
  "use strict";
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "^400$", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];
})();
