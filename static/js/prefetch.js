/* The next pair's videos, fetched while the current pair is watched, and the wait report.
 *
 * A player (`[data-ab-player]`) whose server reserved the next comparison or matchup names its media in
 * `data-prefetch`: the same opaque URLs the next panel will show, which the media view serves because the
 * annotator or participant already holds them. Once both current videos can play through (so that the
 * prefetch never slows them down), each is fetched whole into the browser's HTTP cache (the media view
 * answers `Cache-Control: private, max-age=…`), and then opened in a hidden, muted <video> that decodes
 * its first frames from there: a warm element. When the next panel is swapped in, each of its videos whose
 * URL has a warm element is replaced by it (keeping the new element's attributes), before the player
 * starts: the pair can play at once instead of after a fresh decoder start (about 100–150 ms a video on a
 * laptop). A slow or failed fetch changes nothing: the next panel then loads its videos as it would
 * without prefetching. Warm elements of URLs the next panel does not show are dropped.
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
  const warm = new Map(); // absolute URL → a hidden <video> that has it decoding from the cache

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

  function absolute(url) {
    return new URL(url, document.baseURI).href;
  }

  // Opened only once the whole file is in the cache, so that the element never starts a second download.
  function warmUp(url) {
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.setAttribute("aria-hidden", "true");
    video.addEventListener("error", () => drop(url), { once: true });
    video.src = url;
    warm.set(absolute(url), video);
    warmShelf().append(video);
  }

  function warmShelf() {
    let shelf = document.getElementById("prefetch-warm");
    if (!shelf) {
      shelf = document.createElement("div");
      shelf.id = "prefetch-warm";
      shelf.hidden = true;
      document.body.append(shelf);
    }
    return shelf;
  }

  function release(video) {
    video.removeAttribute("src"); // free its decoder and buffers now rather than when collected
    video.load();
  }

  function drop(url) {
    const video = warm.get(absolute(url));
    if (!video) return;
    warm.delete(absolute(url));
    video.remove();
    release(video);
  }

  function prefetch(urls) {
    for (const url of urls) {
      if (fetched.has(url)) continue;
      fetched.add(url);
      // Read to the end, so that the cache holds the whole file, not a truncated entry.
      fetch(url, { credentials: "same-origin", priority: "low" })
        .then((response) => (response.ok ? response.arrayBuffer() : null))
        .then((body) => { if (body !== null) warmUp(url); })
        .catch(() => null);
    }
  }

  // The swapped-in panel's videos take the warm elements of their URLs, before its player is made (the
  // player starts at htmx's settle, after this). Attributes come from the new element: side, poster, size,
  // label. Warm elements the new panel does not show are freed.
  function adoptWarm(root) {
    const shown = new Set();
    for (const fresh of root.querySelectorAll("video[data-side]")) {
      const url = absolute(fresh.getAttribute("src") || "");
      const video = warm.get(url);
      if (!video) continue;
      warm.delete(url);
      shown.add(url);
      video.removeAttribute("aria-hidden");
      for (const attribute of fresh.attributes) {
        if (attribute.name !== "src") video.setAttribute(attribute.name, attribute.value);
      }
      fresh.replaceWith(video);
      release(fresh);
    }
    for (const url of Array.from(warm.keys())) if (!shown.has(url)) drop(url);
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

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail && event.detail.elt;
    const roots = [];
    if (target && target.matches && target.matches("[data-ab-player]")) roots.push(target);
    if (target && target.querySelectorAll) roots.push(...target.querySelectorAll("[data-ab-player]"));
    roots.forEach(adoptWarm);
  });

  htmx.onLoad((element) => {
    const roots = [];
    if (element.matches && element.matches("[data-ab-player]")) roots.push(element);
    if (element.querySelectorAll) roots.push(...element.querySelectorAll("[data-ab-player]"));
    roots.forEach(setUp);
  });
})();
