// The transcription player: play/pause with auto-rewind on resume, seek, ±5 s, speed
// 0.5×–2×, and the waveform drawn from the server's peaks (50 values a second, 0..1).
import { clock, t } from "./common.js";

export const MIN_RATE = 0.5;
export const MAX_RATE = 2.0;
export const RATE_STEP = 0.1;
export const SKIP_SECONDS = 5;

export class Player {
  constructor({ audio, playButton, now, total, wave, speed, speedOut, peaks, duration, rewind, gaps, gapLabel }) {
    Object.assign(this, { audio, playButton, now, total, wave, speed, speedOut });
    this.peaks = peaks || [];
    this.gaps = gaps || []; // [[start, end], ...] seconds the server could not decode
    this.gapLabel = gapLabel || "{start}–{end}";
    this.bands = [];
    this.knownDuration = duration || 0;
    this.rewind = rewind;
    this.pausedAt = null; // where the user paused: resuming from there rewinds a little
    this.listeners = [];
    this.canvas = wave.querySelector("canvas");
    this.columns = [];

    playButton.addEventListener("click", () => this.toggle());
    audio.addEventListener("play", () => this.changed());
    audio.addEventListener("pause", () => this.changed());
    audio.addEventListener("seeked", () => this.tick());
    audio.addEventListener("loadedmetadata", () => { this.layout(); this.tick(); });
    audio.addEventListener("ended", () => { this.pausedAt = null; this.changed(); });
    speed.addEventListener("input", () => this.setRate(Number(speed.value)));
    wave.addEventListener("click", (event) => this.seekToPointer(event));
    wave.addEventListener("keydown", (event) => this.waveKey(event));
    new ResizeObserver(() => this.layout()).observe(wave);
    this.layout();
    this.tick();
  }

  get duration() {
    const d = this.audio.duration;
    return Number.isFinite(d) && d > 0 ? d : this.knownDuration;
  }

  get time() { return this.audio.currentTime; }
  get playing() { return !this.audio.paused && !this.audio.ended; }

  onTime(callback) { this.listeners.push(callback); }

  toggle() { return this.playing ? this.pause() : this.resume(); }

  pause() {
    this.audio.pause();
    this.pausedAt = this.audio.currentTime;
  }

  /** Play on; after a pause (and no seek since) start `rewind` seconds earlier, so the
   *  typist hears again the words they stopped on. */
  resume() {
    const here = this.audio.currentTime;
    if (this.pausedAt !== null && Math.abs(here - this.pausedAt) < 0.05 && this.rewind > 0) {
      this.audio.currentTime = Math.max(0, here - this.rewind);
    }
    this.pausedAt = null;
    return this.audio.play().catch(() => {});
  }

  seek(seconds) {
    const end = this.duration || Infinity;
    this.audio.currentTime = Math.min(Math.max(0, seconds), end);
    this.pausedAt = null; // a seek is a new starting point: no rewind from there
    this.tick();
  }

  playFrom(seconds) {
    this.seek(seconds);
    return this.audio.play().catch(() => {});
  }

  skip(delta) { this.seek(this.audio.currentTime + delta); }

  setRate(rate) {
    const clamped = Math.min(MAX_RATE, Math.max(MIN_RATE, Math.round(rate * 10) / 10));
    this.audio.playbackRate = clamped;
    this.audio.preservesPitch = true;
    this.speed.value = String(clamped);
    this.speedOut.textContent = `${clamped.toFixed(1)}×`;
    return clamped;
  }

  slower() { return this.setRate(this.audio.playbackRate - RATE_STEP); }
  faster() { return this.setRate(this.audio.playbackRate + RATE_STEP); }

  changed() {
    const playing = this.playing;
    this.playButton.textContent = playing ? "❚❚" : "▶";
    this.playButton.setAttribute("aria-label", playing ? t("player.pause") : t("player.play"));
    this.playButton.setAttribute("aria-pressed", String(playing));
    if (playing) this.loop();
    this.tick();
  }

  loop() {
    // timeupdate fires ~4 times a second: too coarse to follow words, so follow the frames.
    const step = () => {
      this.tick();
      if (this.playing) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  tick() {
    const now = this.audio.currentTime;
    this.now.textContent = clock(now);
    if (this.duration) this.total.textContent = clock(this.duration);
    this.wave.setAttribute("aria-valuenow", String(Math.round(now)));
    this.wave.setAttribute("aria-valuemax", String(Math.round(this.duration || 0)));
    this.wave.setAttribute("aria-valuetext", `${clock(now)} / ${clock(this.duration)}`);
    this.draw(now);
    for (const listener of this.listeners) listener(now);
  }

  seekToPointer(event) {
    const box = this.wave.getBoundingClientRect();
    const fraction = (event.clientX - box.left) / box.width;
    if (this.duration) this.seek(fraction * this.duration);
  }

  waveKey(event) {
    const moves = { ArrowLeft: -SKIP_SECONDS, ArrowRight: SKIP_SECONDS, PageDown: -30, PageUp: 30 };
    if (event.key in moves) this.skip(moves[event.key]);
    else if (event.key === "Home") this.seek(0);
    else if (event.key === "End") this.seek(this.duration);
    else if (event.key === " " || event.key === "Enter") this.toggle();
    else return;
    event.preventDefault();
  }

  /** One column per device pixel: the loudest peak that falls in it. */
  layout() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.wave.clientWidth * ratio));
    const height = Math.max(1, Math.round(this.wave.clientHeight * ratio));
    this.canvas.width = width;
    this.canvas.height = height;
    const columns = new Float32Array(width);
    const n = this.peaks.length;
    if (n) {
      for (let x = 0; x < width; x++) {
        const from = Math.floor((x / width) * n), to = Math.max(from + 1, Math.floor(((x + 1) / width) * n));
        let top = 0;
        for (let i = from; i < to && i < n; i++) top = Math.max(top, this.peaks[i]);
        columns[x] = top;
      }
    }
    this.columns = columns;
    this.placeGaps();
    this.draw(this.audio.currentTime);
  }

  /** A marked band over each stretch that could not be decoded (silence in the player, not a
   * pause); a stretch lost at the very end, past the playable audio, shows at the right edge. */
  placeGaps() {
    const length = this.duration;
    if (!this.bands.length) {
      this.bands = this.gaps.map(([start, end]) => {
        const band = document.createElement("span");
        band.className = "gap-band";
        band.dataset.start = String(start);
        band.dataset.end = String(end);
        band.title = this.gapLabel.replace("{start}", clock(start)).replace("{end}", clock(end));
        this.wave.appendChild(band);
        return band;
      });
    }
    for (const band of this.bands) {
      const start = Number(band.dataset.start), end = Number(band.dataset.end);
      const left = length ? Math.min(1, start / length) : 0;
      const right = length ? Math.min(1, end / length) : 1;
      band.style.left = `${(left * 100).toFixed(3)}%`;
      band.style.width = `${(Math.max(0, right - left) * 100).toFixed(3)}%`;
      if (left >= 1) { band.style.left = "auto"; band.style.right = "0"; }
    }
  }

  draw(now) {
    const ctx = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    const played = this.duration ? (now / this.duration) * width : 0;
    const mid = height / 2;
    for (let x = 0; x < this.columns.length; x++) {
      const h = Math.max(1, this.columns[x] * (height - 6));
      ctx.fillStyle = x < played ? "#f5b942" : "#6f819e";
      ctx.fillRect(x, mid - h / 2, 1, h);
    }
    if (!this.columns.length || !this.peaks.length) {
      ctx.fillStyle = "#3d4d68";
      ctx.fillRect(0, mid - 1, width, 2);
    }
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(Math.min(width - 2, Math.max(0, played - 1)), 0, 2, height);
  }
}
