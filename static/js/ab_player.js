/* The synchronized A/B player of the comparison panel, its keyboard shortcuts, and the htmx settings
 * the panel relies on.
 *
 * One control bar drives all the player's videos (`video[data-side]`: "left" and "right" on an A/B page,
 * "0", "1", … on a study's best-of-all page). Playback is offered only once every video can play, so none
 * gets a head start; with `data-autoplay="on"` they then start by themselves (muted), and a browser that
 * refuses leaves the play button as it would be without. How much of each video has played (from
 * `video.played`) is reported to the server as `watched_<side>`, and the vote buttons unlock from the
 * server's answer: the server checks that same record when the vote arrives, so a button that looks
 * enabled is a vote that will be accepted.
 *
 * Narrative comparisons (two renderings of one story, `data-shots-left` / `data-shots-right`: the second
 * at which each shot starts in either joined file) play shot by shot in lockstep: both sides start shot k
 * together, the side whose shot is shorter holds on its last frame until the other's ends, and then both
 * start shot k+1. The time axis is that of the shots side by side (each as long as its longer side). The
 * shot strip shows the shot playing and jumps to a shot on both sides at once (a click, or keys 1–9);
 * voting waits, beside the server's record, until every shot of both sides has played.
 */
(function () {
  "use strict";

  // A refused vote or undo (400 bad input, 409 paused / nothing to undo, 410 expired) comes back as the
  // panel with the reason in it: swap it in like a success. Other errors keep htmx's default.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "^(400|409|410)$", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];

  const REPORT_EVERY_MS = 1000;
  const SYNC_EVERY_MS = 250;
  let current = null; // the player of the panel on the page: there is one panel at a time

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function playedFraction(video) {
    if (!video.duration || !isFinite(video.duration)) return 0;
    let seen = 0;
    for (let i = 0; i < video.played.length; i++) seen += video.played.end(i) - video.played.start(i);
    return Math.min(1, seen / video.duration);
  }

  function formatTime(seconds) {
    const total = Math.max(0, seconds || 0);
    const minutes = Math.floor(total / 60);
    return minutes + ":" + (total - minutes * 60).toFixed(2).padStart(5, "0");
  }

  class ABPlayer {
    constructor(root) {
      this.root = root;
      this.videos = Array.from(root.querySelectorAll("video[data-side]"));
      this.sides = this.videos.map((video) => video.dataset.side);
      this.fps = parseFloat(root.dataset.fps) || 25;
      this.needed = parseFloat(root.dataset.watchNeeded) || 0;
      // What the server has recorded (a reload or a re-rendered panel keeps what was already seen).
      this.server = this.sides.map((side) => parseFloat(root.getAttribute("data-watched-" + side)) || 0);
      this.sent = this.sides.map(() => -1);
      this.watchUrl = root.dataset.watchUrl;
      this.form = root.querySelector("form.vote");
      this.voteButtons = Array.from(root.querySelectorAll("[data-vote]"));
      this.responseInput = root.querySelector('input[name="response_ms"]');
      this.ui = {
        play: root.querySelector('[data-action="play"]'),
        back: root.querySelector('[data-action="back"]'),
        forward: root.querySelector('[data-action="forward"]'),
        seek: root.querySelector('[data-role="seek"]'),
        time: root.querySelector('[data-role="time"]'),
        speed: root.querySelector('[data-role="speed"]'),
        loop: root.querySelector('[data-role="loop"]'),
        status: root.querySelector('[data-role="status"]'),
        hint: root.querySelector('[data-role="lock-hint"]'),
        autoplay: root.querySelector('[data-role="autoplay"]'),
        watched: this.sides.map((side) => root.querySelector('[data-role="watched-' + side + '"]')),
      };
      this.ready = false;
      this.readyAt = null;
      this.playing = false;
      this.reporting = false;
      this.reportAgain = false;
      this.voting = false;
      this.announcedUnlock = false;
      this.timers = [];
      this.shots = this.readShots();
      if (this.shots) this.bindShots();
      this.bind();
      this.updateWatched();
      this.updateLock();
      this.checkReady();
    }

    // The longest video sets the time axis (the first of equals); the others follow it while they have
    // frames left.
    get master() {
      return this.videos.reduce((longest, video) => ((video.duration || 0) > (longest.duration || 0) ? video : longest));
    }

    get followers() {
      const master = this.master;
      return this.videos.filter((video) => video !== master);
    }

    get duration() {
      if (this.shots) return this.shotStarts(this.shotCount);
      return Math.max(...this.videos.map((video) => video.duration || 0));
    }

    // Where playback stands on the time axis: the master's time, or (narrative) the shot's start on the
    // axis plus how far the side furthest into the shot has come.
    get position() {
      if (!this.shots) return this.master.currentTime;
      const k = this.shot;
      const into = this.videos.map((video, i) => {
        const [start, end] = this.span(i, k);
        return Math.max(0, Math.min(video.currentTime - start, end - start));
      });
      return this.shotStarts(k) + Math.max(...into);
    }

    // --- narrative: shots in lockstep ---

    readShots() {
      const lists = this.sides.map((side) =>
        (this.root.getAttribute("data-shots-" + side) || "").split(/\s+/).filter(Boolean).map(Number));
      const count = lists[0].length;
      if (!count || lists.some((list) => list.length !== count || list.some((t) => !isFinite(t)))) return null;
      return lists;
    }

    get shotCount() {
      return this.shots[0].length;
    }

    // Half a frame short of a boundary a side holds on its shot's last frame (never the next shot's first).
    get holdBack() {
      return 0.25 / this.fps;
    }

    // Shot k of video i: [start, end) in that video's seconds.
    span(i, k) {
      const starts = this.shots[i];
      const end = k + 1 < starts.length ? starts[k + 1] : this.videos[i].duration || starts[k];
      return [starts[k], Math.max(starts[k], end)];
    }

    shotLength(k) {
      return Math.max(...this.videos.map((video, i) => this.span(i, k)[1] - this.span(i, k)[0]));
    }

    // Where shot k starts on the time axis (k = shotCount: the axis's end).
    shotStarts(k) {
      let total = 0;
      for (let j = 0; j < k; j++) total += this.shotLength(j);
      return total;
    }

    bindShots() {
      this.shot = 0;
      this.frame = null;
      const panel = this.root.closest("#comparison-panel") || document;
      this.ui.shotButtons = Array.from(this.root.querySelectorAll(".shot-strip [data-shot]"));
      this.ui.shotPrompts = Array.from(panel.querySelectorAll('[data-role="story-prompts"] [data-shot]'));
      // A page reloaded after every shot was seen: the server's record stands for what this page lost.
      this.seenBefore = this.needed > 0 && Math.min(...this.server) >= this.needed;
      for (const button of this.ui.shotButtons) {
        button.addEventListener("click", () => {
          this.jumpTo(parseInt(button.dataset.shot, 10));
          button.blur(); // the arrow keys vote, Space plays: not a click on this button
        });
      }
    }

    setShot(k) {
      this.shot = k;
      for (const element of [...this.ui.shotButtons, ...this.ui.shotPrompts]) {
        const here = parseInt(element.dataset.shot, 10) === k;
        element.classList.toggle("current", here);
        if (element.tagName === "BUTTON") {
          if (here) element.setAttribute("aria-current", "step");
          else element.removeAttribute("aria-current");
        }
      }
    }

    // Whether video i is through shot k: at its boundary (held there), or at its end for the last shot.
    shotDone(i, k) {
      const video = this.videos[i];
      const end = this.span(i, k)[1];
      if (k === this.shotCount - 1) return video.ended || video.currentTime >= end - 0.01;
      return video.currentTime >= end - this.holdBack - 0.001;
    }

    jumpTo(k) {
      if (!this.ready || !this.shots || k < 0 || k >= this.shotCount) return;
      this.seekTo(this.shotStarts(k));
    }

    // Start the sides still inside the current shot; a side through it waits for the others.
    startShot() {
      const rate = parseFloat(this.ui.speed.value) || 1;
      const starts = [];
      this.videos.forEach((video, i) => {
        video.playbackRate = rate;
        if (!this.shotDone(i, this.shot)) starts.push(video.play());
      });
      if (this.frame === null) this.frame = requestAnimationFrame(() => this.tick());
      return starts;
    }

    // Every animation frame while playing: hold a side at its boundary, start the next shot on all
    // sides once every side is through this one.
    tick() {
      this.frame = null;
      if (!this.playing || !this.shots) return;
      const k = this.shot;
      const last = k === this.shotCount - 1;
      let through = true;
      this.videos.forEach((video, i) => {
        if (!this.shotDone(i, k)) {
          through = false;
          return;
        }
        if (!last && !video.paused) {
          video.pause();
          const hold = this.span(i, k)[1] - this.holdBack;
          if (video.currentTime > hold) video.currentTime = hold;
        }
      });
      if (through) {
        this.report();
        if (!last) {
          this.setShot(k + 1);
          this.videos.forEach((video, i) => { video.currentTime = this.span(i, k + 1)[0]; });
          this.startShot();
          return;
        }
        if (this.ui.loop.checked) {
          this.seekTo(0);
          this.startShot();
          return;
        }
        this.playing = false;
        for (const video of this.videos) video.pause();
        this.updatePlayButton();
        this.updateTime();
        return;
      }
      this.updateTime();
      this.frame = requestAnimationFrame(() => this.tick());
    }

    // Drift inside a shot (a stall, a slower decoder): the side with the longer shot leads, the others
    // follow it while their own shot lasts.
    alignShots(always) {
      const k = this.shot;
      const lengths = this.videos.map((video, i) => this.span(i, k)[1] - this.span(i, k)[0]);
      const lead = lengths.indexOf(Math.max(...lengths));
      const into = this.videos[lead].currentTime - this.span(lead, k)[0];
      this.videos.forEach((video, i) => {
        if (i === lead || into >= lengths[i] - this.holdBack) return; // it holds at its boundary
        const target = this.span(i, k)[0] + Math.max(0, into);
        if (always || Math.abs(video.currentTime - target) > 1 / this.fps) video.currentTime = target;
      });
    }

    // Of shot k, the least fraction either side has played.
    shotSeen(k) {
      return Math.min(...this.videos.map((video, i) => {
        const [start, end] = this.span(i, k);
        if (end <= start) return video.duration ? 1 : 0; // an empty shot; or the last one's end not known yet
        let seen = 0;
        for (let r = 0; r < video.played.length; r++) {
          seen += Math.max(0, Math.min(end, video.played.end(r)) - Math.max(start, video.played.start(r)));
        }
        // The half frame held back at a boundary is not missing: a frame's worth counts as played.
        return Math.min(1, (seen + 1 / this.fps) / (end - start));
      }));
    }

    get everyShotSeen() {
      if (!this.shots || this.needed <= 0 || this.seenBefore) return true;
      for (let k = 0; k < this.shotCount; k++) if (this.shotSeen(k) < this.needed) return false;
      return true;
    }

    // "Both videos" on an A/B page, "All 4 videos" on a best-of-all page.
    get allNamed() {
      return this.videos.length === 2 ? "Both videos" : "All " + this.videos.length + " videos";
    }

    bind() {
      const onState = () => this.checkReady();
      for (const video of this.videos) {
        for (const type of ["loadeddata", "canplay", "canplaythrough"]) video.addEventListener(type, onState);
        video.addEventListener("error", () => this.setStatus("A video could not be loaded. Reload the page; if it keeps happening, tell the study admin.", true));
        video.addEventListener("ended", () => this.onEnded(video));
        video.addEventListener("timeupdate", () => this.updateTime());
      }
      this.ui.play.addEventListener("click", () => this.togglePlay());
      this.ui.back.addEventListener("click", () => this.step(-1));
      this.ui.forward.addEventListener("click", () => this.step(1));
      this.ui.seek.addEventListener("input", () => this.seekTo((this.ui.seek.value / 1000) * this.duration));
      // Let go of the slider after a drag so the arrow keys vote again instead of nudging it.
      this.ui.seek.addEventListener("pointerup", () => this.ui.seek.blur());
      this.ui.speed.addEventListener("change", () => {
        for (const video of this.videos) video.playbackRate = parseFloat(this.ui.speed.value) || 1;
        this.ui.speed.blur();
      });
      this.form.addEventListener("click", (event) => {
        if (event.target.closest("[data-vote]") && this.responseInput) {
          this.responseInput.value = this.readyAt === null ? "" : String(Math.round(performance.now() - this.readyAt));
        }
      });
      this.form.addEventListener("htmx:beforeRequest", () => { this.voting = true; });
      this.form.addEventListener("htmx:afterRequest", () => { this.voting = false; this.updateLock(); });
      this.root.addEventListener("htmx:beforeCleanupElement", (event) => {
        if (event.target === this.root) this.destroy();
      });
      this.timers.push(setInterval(() => this.sync(), SYNC_EVERY_MS));
      this.timers.push(setInterval(() => { if (this.playing) this.report(); }, REPORT_EVERY_MS));
    }

    destroy() {
      this.playing = false; // ends a narrative's frame loop
      if (this.frame) cancelAnimationFrame(this.frame);
      this.timers.forEach(clearInterval);
      this.timers = [];
      for (const video of this.videos) {
        video.pause();
        video.removeAttribute("src"); // free the decoder now rather than when collected
        video.load();
      }
      if (current === this) current = null;
    }

    setStatus(text, isError) {
      this.ui.status.textContent = text;
      this.ui.status.classList.toggle("error", !!isError);
    }

    checkReady() {
      if (this.ready || !this.videos.every((video) => video.readyState >= 3)) return;
      this.ready = true;
      this.readyAt = performance.now();
      for (const control of [this.ui.play, this.ui.back, this.ui.forward, this.ui.seek]) control.disabled = false;
      this.setStatus(this.readyText());
      this.updateTime();
      if (this.root.dataset.autoplay === "on") this.play({ quiet: true });
    }

    readyText() {
      return this.allNamed + " are ready. Press Space or ▶ to play them together.";
    }

    // quiet: started by the page, not by the person; a browser that refuses leaves the ▶ as it was.
    async play({ quiet = false } = {}) {
      if (!this.ready) return;
      const master = this.master;
      if (this.shots ? this.position >= this.duration - 0.01 : master.ended || master.currentTime >= this.duration - 0.001) {
        this.seekTo(0);
      }
      const rate = parseFloat(this.ui.speed.value) || 1;
      for (const video of this.videos) video.playbackRate = rate;
      this.alignFollower(true);
      this.playing = true;
      this.updatePlayButton();
      this.setStatus("");
      // Started in the same task, from the same position: neither side gets a head start.
      const starts = this.shots
        ? this.startShot()
        : this.videos.filter((video) => video.currentTime < (video.duration || 0)).map((video) => video.play());
      try {
        await Promise.all(starts);
      } catch (error) {
        this.playing = false;
        for (const video of this.videos) video.pause();
        this.updatePlayButton();
        if (quiet) this.setStatus(this.readyText());
        else this.setStatus("The browser refused to play the videos: press ▶ again.", true);
      }
    }

    pause() {
      this.playing = false;
      for (const video of this.videos) video.pause();
      this.alignFollower(true);
      this.updatePlayButton();
      this.report();
    }

    togglePlay() {
      if (this.playing) this.pause();
      else this.play();
    }

    seekTo(seconds) {
      const target = Math.max(0, Math.min(seconds, this.duration || 0));
      if (this.shots) {
        // The shot at that point of the axis, and as far into it on every side as that side's shot goes.
        let k = 0;
        while (k < this.shotCount - 1 && target >= this.shotStarts(k + 1)) k++;
        const into = target - this.shotStarts(k);
        this.setShot(k);
        this.videos.forEach((video, i) => {
          const [start, end] = this.span(i, k);
          const hold = k === this.shotCount - 1 ? end : end - this.holdBack;
          video.currentTime = Math.max(start, Math.min(start + into, hold));
        });
        this.updateTime(target);
        if (this.playing) this.startShot();
        return;
      }
      for (const video of this.videos) video.currentTime = Math.min(target, video.duration || 0);
      this.updateTime(target);
    }

    step(frames) {
      if (!this.ready) return;
      if (this.playing) this.pause();
      this.seekTo(this.position + frames / this.fps);
    }

    alignFollower(always) {
      if (this.shots) return this.alignShots(always);
      const master = this.master;
      for (const follower of this.followers) {
        if (master.currentTime > (follower.duration || 0)) continue; // a shorter one has simply ended
        if (always || Math.abs(follower.currentTime - master.currentTime) > 1 / this.fps) {
          follower.currentTime = master.currentTime;
        }
      }
    }

    sync() {
      if (!document.body.contains(this.root)) {
        this.destroy();
        return;
      }
      if (!this.playing) return;
      if (this.shots) {
        this.alignShots(false);
        this.updateTime();
        this.updateWatched();
        return;
      }
      const master = this.master;
      // Drift beyond one frame (a stall, a slower decoder) is corrected by moving the follower.
      this.alignFollower(false);
      for (const follower of this.followers) {
        if (master.currentTime < (follower.duration || 0) && follower.paused && !master.paused) {
          follower.play().catch(() => {});
        }
      }
      this.updateTime();
      this.updateWatched();
    }

    onEnded(video) {
      this.updateWatched();
      this.report();
      if (this.shots || video !== this.master) return; // shots: the next animation frame moves on
      if (this.ui.loop.checked && this.playing) {
        this.seekTo(0);
        this.play();
      } else {
        this.playing = false;
        for (const other of this.videos) other.pause();
        this.updatePlayButton();
      }
    }

    updatePlayButton() {
      this.ui.play.toggleAttribute("data-playing", this.playing);
      this.ui.play.setAttribute("aria-label", this.playing ? "Pause" : "Play");
    }

    updateTime(at) {
      const now = at === undefined ? this.position : at;
      const duration = this.duration;
      this.ui.time.textContent = formatTime(now) + " / " + formatTime(duration);
      if (duration && document.activeElement !== this.ui.seek) {
        this.ui.seek.value = String(Math.round((now / duration) * 1000));
      }
    }

    updateWatched() {
      this.videos.forEach((video, k) => {
        const bar = this.ui.watched[k];
        if (!bar) return;
        bar.style.width = (Math.max(playedFraction(video), this.server[k]) * 100).toFixed(1) + "%";
        bar.parentElement.classList.toggle("met", this.server[k] >= this.needed);
      });
      if (this.shots) {
        this.ui.shotButtons.forEach((button, k) => {
          const seen = this.shotSeen(k);
          const bar = button.querySelector(".shot-seen");
          if (bar) bar.style.width = (seen * 100).toFixed(1) + "%";
          button.classList.toggle("seen", seen >= this.needed);
        });
        this.updateLock();
      }
    }

    // The server's record from its answer: `watched_<side>` where it names the side (an A/B page), else
    // the list `watched` in the order of the page's videos.
    recordedFrom(answer) {
      return this.sides.map((side, k) => {
        const named = answer["watched_" + side];
        return typeof named === "number" ? named : Array.isArray(answer.watched) ? answer.watched[k] || 0 : 0;
      });
    }

    async report() {
      if (!this.watchUrl) return;
      const seen = this.videos.map((video) => Math.min(1, playedFraction(video)));
      if (seen.every((fraction, k) => fraction <= this.sent[k] + 0.001)) return;
      if (this.reporting) {
        this.reportAgain = true;
        return;
      }
      this.reporting = true;
      try {
        const response = await fetch(this.watchUrl, {
          method: "POST",
          headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(this.sides.map((side, k) => ["watched_" + side, seen[k].toFixed(4)])),
          credentials: "same-origin",
        });
        if (response.ok) {
          const answer = await response.json();
          this.sent = seen;
          this.server = this.recordedFrom(answer);
          if (typeof answer.missing === "string") this.missing = answer.missing;
          // The server caps what can have been seen by the time since the comparison was handed out;
          // when it recorded less than was sent, send again a little later.
          if (this.server.some((fraction, k) => fraction < seen[k] - 0.001)) {
            this.sent = this.sides.map(() => -1);
            setTimeout(() => this.report(), REPORT_EVERY_MS);
          }
        }
      } catch (error) {
        // A lost report is sent again with the next one; the vote waits for the server's view anyway.
      } finally {
        this.reporting = false;
        this.updateWatched();
        this.updateLock();
        if (this.reportAgain) {
          this.reportAgain = false;
          this.report();
        }
      }
    }

    get unlocked() {
      return this.needed <= 0 || (Math.min(...this.server) >= this.needed && this.everyShotSeen);
    }

    updateLock() {
      if (this.voting) return; // htmx holds the buttons disabled while the vote is on its way
      const unlocked = this.unlocked;
      for (const button of this.voteButtons) button.disabled = !unlocked;
      if (this.ui.hint) {
        // A study's hint names what is still missing, as the server worded it in its last answer.
        if (this.missing !== undefined && this.ui.hint.hasAttribute("data-live")) this.ui.hint.textContent = this.missing;
        this.ui.hint.hidden = unlocked;
      }
      if (unlocked && this.needed > 0 && !this.announcedUnlock) {
        this.announcedUnlock = true;
        const watched = this.shots ? "Every shot of both videos has played" : this.allNamed + " have been watched";
        this.setStatus(this.root.dataset.unlockedText || watched + ": you can vote now.");
      }
    }

    vote(value) {
      const button = this.voteButtons.find((candidate) => candidate.value === value);
      if (button && !button.disabled && !this.voting) button.click();
    }

    toggleAutoplay() {
      if (this.ui.autoplay) this.ui.autoplay.click(); // its change event saves the setting (htmx)
    }
  }

  function typingInto(target) {
    // Arrow keys belong to the slider and the speed menu while they have focus.
    return !!(target && target.closest && target.closest("input:not([type=checkbox]), select, textarea, [contenteditable]"));
  }

  document.addEventListener("keydown", (event) => {
    const player = current;
    if (!player || event.ctrlKey || event.metaKey || event.altKey || typingInto(event.target)) return;
    const keys = { ArrowLeft: "left", ArrowRight: "right", t: "tie", T: "tie", b: "both_bad", B: "both_bad" };
    if (event.key === " " || event.key === "Spacebar") {
      event.preventDefault(); // not a page scroll, nor a click on whichever button has focus
      if (!event.repeat) player.togglePlay();
    } else if (event.key === "a" || event.key === "A") {
      if (!event.repeat) player.toggleAutoplay();
    } else if (player.shots && /^[1-9]$/.test(event.key)) {
      if (!event.repeat) player.jumpTo(parseInt(event.key, 10) - 1);
    } else if (keys[event.key]) {
      if (event.key.startsWith("Arrow")) event.preventDefault();
      if (!event.repeat) player.vote(keys[event.key]);
    }
  });
  document.addEventListener("keyup", (event) => {
    // A focused button would otherwise take the Space as a click on key release.
    if ((event.key === " " || event.key === "Spacebar") && current && !typingInto(event.target)) event.preventDefault();
  });

  document.addEventListener("htmx:responseError", (event) => {
    const box = document.getElementById("player-error");
    if (!box) return;
    box.textContent = "The server answered " + event.detail.xhr.status + ". Reload the page to continue.";
    box.hidden = false;
  });
  document.addEventListener("htmx:sendError", () => {
    const box = document.getElementById("player-error");
    if (!box) return;
    box.textContent = "The network failed; your vote may not have arrived. Press the button again (it is counted once).";
    box.hidden = false;
  });
  document.addEventListener("htmx:afterSwap", () => {
    const box = document.getElementById("player-error");
    if (box) box.hidden = true;
  });

  htmx.onLoad((element) => {
    const roots = [];
    if (element.matches && element.matches("[data-ab-player]")) roots.push(element);
    if (element.querySelectorAll) roots.push(...element.querySelectorAll("[data-ab-player]"));
    for (const root of roots) {
      if (!root.abPlayer) root.abPlayer = current = new ABPlayer(root);
    }
  });
})();
