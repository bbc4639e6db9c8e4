// A <details data-remember="name"> keeps the reader's last choice, open or closed, in localStorage:
// instructions closed once read stay closed on later visits, per track. Without storage the page's own
// default (open on a first visit) holds.
(function () {
  "use strict";
  for (const details of document.querySelectorAll("details[data-remember]")) {
    const key = "open:" + details.dataset.remember;
    try {
      const stored = window.localStorage.getItem(key);
      if (stored !== null) details.open = stored === "open";
    } catch (refused) {
      continue;
    }
    details.addEventListener("toggle", () => {
      try {
        window.localStorage.setItem(key, details.open ? "open" : "closed");
      } catch (refused) {
        // Private modes may refuse storage: the choice then lasts for this page only.
      }
    });
  }
})();
