// Recording on the phone: MediaRecorder with start, pause, resume, stop, a level meter
// and the elapsed time (pauses not counted).

const TYPES = ["audio/webm;codecs=opus", "audio/mp4", "audio/ogg;codecs=opus", "audio/webm"];

export function recordingType() {
  if (typeof MediaRecorder === "undefined") return null;
  return TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
}

export class Recorder {
  /** onChunk(blob) gets each second of the recording as it arrives (phone.js keeps it). */
  constructor({ onLevel, onTick, onChunk }) {
    Object.assign(this, { onLevel, onTick, onChunk });
    this.state = "idle"; // idle, recording, paused, stopped
    this.elapsedBefore = 0; // seconds recorded before the last resume
    this.since = 0;
  }

  get elapsed() {
    return this.elapsedBefore + (this.state === "recording" ? (performance.now() - this.since) / 1000 : 0);
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const type = recordingType();
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type, audioBitsPerSecond: 64000 } : undefined);
    this.chunks = [];
    this.recorder.addEventListener("dataavailable", (event) => {
      if (!event.data.size) return;
      this.chunks.push(event.data);
      this.onChunk?.(event.data);
    });
    this.recorder.start(1000); // a chunk a second: little is lost if the page dies
    this.elapsedBefore = 0;
    this.since = performance.now();
    this.state = "recording";
    this.meter();
  }

  pause() {
    if (this.state !== "recording") return;
    this.recorder.pause();
    this.elapsedBefore = this.elapsed;
    this.state = "paused";
  }

  resume() {
    if (this.state !== "paused") return;
    this.recorder.resume();
    this.since = performance.now();
    this.state = "recording";
  }

  /** Stop and hand back the recording as a File. */
  stop() {
    return new Promise((resolve) => {
      this.elapsedBefore = this.elapsed;
      this.state = "stopped";
      this.recorder.addEventListener("stop", () => {
        for (const track of this.stream.getTracks()) track.stop();
        this.context?.close();
        const type = (this.recorder.mimeType || "audio/webm").split(";")[0];
        const extension = type.includes("mp4") ? "m4a" : type.includes("ogg") ? "ogg" : "webm";
        const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "");
        resolve(new File(this.chunks, `memo-${stamp}.${extension}`, { type, lastModified: Date.now() }));
      }, { once: true });
      this.recorder.stop();
    });
  }

  meter() {
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    this.context = new AudioCtx();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.context.createMediaStreamSource(this.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const draw = () => {
      if (this.state === "stopped" || this.state === "idle") { this.onLevel(0); return; }
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      // -60 dBFS..0 dBFS onto 0..1: speech sits around the middle.
      const level = this.state === "paused" ? 0 : Math.min(1, Math.max(0, (20 * Math.log10(rms + 1e-9) + 60) / 60));
      this.onLevel(level);
      this.onTick(this.elapsed);
      requestAnimationFrame(draw);
    };
    requestAnimationFrame(draw);
  }
}
