// "Add to this memo" on the memo's phone page: the author records a follow-up (or picks a
// file) and sends it; the server joins it onto the memo and appends its text to the draft.
import { api, clock, pageData, request, t } from "./common.js";
import { Recorder, recordingType } from "./recorder.js";

const { memoId } = pageData("add-data") || {};
const open = document.getElementById("add-open");
const form = document.getElementById("add-form");
const status = document.getElementById("add-status");
const send = document.getElementById("add-send");
const picked = document.getElementById("add-picked");
const recordButton = document.getElementById("add-record");
const stopButton = document.getElementById("add-stop");
const meter = document.getElementById("add-meter");
let file = null;
let recorder = null;

function choose(chosen) {
  file = chosen;
  picked.textContent = file ? t("phone.picked", { name: file.name, mb: (file.size / 1048576).toFixed(1) }) : "";
  send.disabled = !file;
}

function level(value) {
  meter.firstElementChild.style.width = `${Math.round(value * 100)}%`;
  meter.setAttribute("aria-valuenow", String(Math.round(value * 100)));
}

if (open && form) {
  open.addEventListener("click", () => {
    form.hidden = !form.hidden;
    open.setAttribute("aria-expanded", String(!form.hidden));
  });
  if (recordingType() === null) recordButton.hidden = true;
  recordButton.addEventListener("click", async () => {
    recorder = new Recorder({ onLevel: level, onTick: (s) => { document.getElementById("add-time").textContent = clock(s); } });
    try {
      await recorder.start();
    } catch (err) {
      status.textContent = t("phone.mic_refused");
      return;
    }
    recordButton.hidden = true;
    stopButton.hidden = false;
    status.textContent = t("phone.recording");
  });
  stopButton.addEventListener("click", async () => {
    stopButton.hidden = true;
    recordButton.hidden = false;
    status.textContent = "";
    choose(await recorder.stop());
  });
  document.getElementById("add-file").addEventListener("change", (event) => choose(event.target.files[0] || null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file) return;
    send.disabled = true;
    status.textContent = t("add.sending");
    const body = new FormData();
    body.append("file", file, file.name);
    const note = document.getElementById("add-note").value.trim();
    if (note) body.append("note", note);
    const result = await request("POST", api(`/memos/${memoId}/additions`), { body });
    if (!result.ok) {
      status.textContent = t("phone.failed", { reason: result.message });
      send.disabled = false;
      return;
    }
    form.hidden = true;
    if (result.data && result.data.duplicate) {
      // Nothing new to wait for; what was typed with it is kept (the answer says where).
      status.textContent = t((result.data.kept || []).includes("note") ? "add.duplicate_note" : "add.duplicate");
      return;
    }
    open.hidden = true;
    status.textContent = t("add.sent");
    follow();
  });
}

/** Says when the addition is in the draft, then shows the page again with it. */
async function follow() {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const result = await request("GET", api(`/memos/${memoId}/additions`));
    const last = result.ok && result.data.length ? result.data[result.data.length - 1] : null;
    if (!last || last.status === "queued" || last.status === "running") continue;
    if (last.status === "done") {
      status.textContent = t("add.done");
      setTimeout(() => window.location.reload(), 1200);
    } else {
      status.textContent = t("phone.failed", { reason: last.error || last.status });
    }
    return;
  }
}
