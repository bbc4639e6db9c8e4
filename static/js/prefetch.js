/* The next pair's videos, fetched while the current pair is watched, and the wait report.
 *
 * A player (`[data-ab-player]`) whose server reserved the next comparison or matchup names its media in
 * `data-prefetch`: the same opaque URLs the next page will show, which the media view serves because the
 * annotator or participant already holds them. Once both current videos can play through (so that the
 * prefetch never slows them down), each is fetched whole into the browser's HTTP cache: the media view
 * answers `Cache-Control: private`, so the next page's <video> elements are served from there. A slow or
 * failed fetch changes nothing: the next page then fetches its videos as it would without prefetching.
 *
 * The wait report: a click on an answer button notes the time (kept in sessionStorage, since a study's
 * next matchup is a new page); the next player, once both its videos can play through, posts the time
 * since then to its `data-wait-url`. The server clips it to what is plausible.
 */
(function () {
  "use strict";

  const ANSWERED_AT = "prefetch.answeredAt";
  const STALE_MS = 10 * 60 * 1000; // a note older than this belongs to no wait worth reporting
  const HAVE_ENOUGH_DATA = 4;
  const fetched = new Set(); // each URL once per page

  function now() {
    return performance.timeOrigin + performance.now();
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function takeAnsweredAt() {
    try {
      const value = parseFloat(sessionStorage.getItem(ANSWERED_AT));
      sessionStorage.removeItem(ANSWERED_AT);
      return isFinite(value) ? value : null;
    } catch (error) {
      return null; // storage refused (a private window's setting): no report
    }
  }

  function playable(video) {
    return new Promise((resolve) => {
      if (video.readyState >= HAVE_ENOUGH_DATA) resolve();
      else video.addEventListener("canplaythrough", () => resolve(), { once: true });
    });
  }

  function prefetch(urls) {
    for (const url of urls) {
      if (fetched.has(url)) continue;
      fetched.add(url);
      // Read to the end, so that the cache holds the whole file, not a truncated entry.
      fetch(url, { credentials: "same-origin", priority: "low" })
        .then((response) => (response.ok ? response.arrayBuffer() : null))
        .catch(() => null);
    }
  }

  function reportWait(url, answeredAt) {
    const body = new URLSearchParams({ wait_ms: String(Math.round(now() - answeredAt)) });
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
      body: body,
    }).catch(() => null);
  }

  function setUp(root) {
    if (root.dataset.prefetchSetUp) return;
    root.dataset.prefetchSetUp = "1";
    const answeredAt = takeAnsweredAt();
    const videos = Array.from(root.querySelectorAll("video[data-side]"));
    Promise.all(videos.map(playable)).then(() => {
      const waited = answeredAt === null ? -1 : now() - answeredAt;
      if (root.dataset.waitUrl && waited >= 0 && waited < STALE_MS) reportWait(root.dataset.waitUrl, answeredAt);
      prefetch((root.dataset.prefetch || "").split(/\s+/).filter(Boolean));
    });
  }

  // Captured before the player's own handlers: the keyboard's answers click the same buttons.
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest && event.target.closest("[data-ab-player] [data-vote]");
      if (!button || button.disabled) return;
      try {
        sessionStorage.setItem(ANSWERED_AT, String(now()));
      } catch (error) {
        // no storage: no wait report
      }
    },
    true
  );

  htmx.onLoad((element) => {
    const roots = [];
    if (element.matches && element.matches("[data-ab-player]")) roots.push(element);
    if (element.querySelectorAll) roots.push(...element.querySelectorAll("[data-ab-player]"));
    roots.forEach(setUp);
  });
})();
