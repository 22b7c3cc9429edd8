// The phone page: record or pick a recording, add the details, send it resumably, and
// watch "my memos" move on. Every second recorded is kept on the phone (phonestore.js) until
// the server has it; what a reload or a lost network left behind is listed and sent (pending.js).
import { api, clock, pageData, request, t, toast } from "./common.js";
import { Outbox } from "./pending.js";
import * as store from "./phonestore.js";
import { Recorder, recordingType } from "./recorder.js";
import { ResumableUpload } from "./upload.js";

const $ = (id) => document.getElementById(id);
const settings = pageData("phone-data");
let chosen = null; // the File to send: a recording or a picked file
let recorder = null;
let recordingId = null; // the kept copy of the recording in the form (or being recorded)
let saving = Promise.resolve(); // chunk writes, in order; awaited before the recording is used

const outbox = new Outbox({
  userId: settings.userId,
  hidden: () => (recordingId ? [recordingId] : []),
  onSent: (done, record) => {
    if (done.duplicateOf) alreadySent(done.memoId, done.duplicateOf);
    else {
      toast(t("phone.sent"));
      addMemo(done.memoId, record.metadata?.title || record.name || t("editor.untitled"));
    }
  },
});
outbox.drain(); // what an earlier visit left: listed now, sent if the author had pressed Send

// The page opens without a network once it has been opened with one (an installable app).
if ("serviceWorker" in navigator && settings.worker) {
  navigator.serviceWorker.register(settings.worker, { scope: settings.scope }).catch(() => {});
}

/** The recording in the form is given up for another one: it stays on the phone, listed. */
function release() {
  if (!recordingId) return;
  recordingId = null;
  outbox.render();
}

function show(...visible) {
  for (const id of ["rec-start", "rec-pause", "rec-resume", "rec-stop", "rec-discard"]) $(id).hidden = !visible.includes(id);
}

function choose(file, label, keptId = null) {
  if (keptId !== recordingId) release();
  recordingId = keptId;
  chosen = file;
  $("send").disabled = !file;
  $("picked").textContent = label || "";
  const listen = $("listen");
  if (listen.src) URL.revokeObjectURL(listen.src);
  if (file) {
    listen.src = URL.createObjectURL(file);
    listen.hidden = false;
  } else {
    listen.removeAttribute("src");
    listen.hidden = true;
  }
}

function level(value) {
  $("meter").firstElementChild.style.width = `${Math.round(value * 100)}%`;
  $("meter").setAttribute("aria-valuenow", String(Math.round(value * 100)));
}

if (recordingType() === null || !navigator.mediaDevices?.getUserMedia) {
  $("rec-start").hidden = true;
  $("no-recorder").hidden = false;
}

let ticker = null;
$("rec-start").addEventListener("click", async () => {
  choose(null);
  let keptId = null;
  try {
    keptId = await store.create(settings.userId, recordingType());
  } catch (err) {
    keptId = null; // no IndexedDB here (a private window): the recording lives in the page only
  }
  recorder = new Recorder({
    onLevel: level,
    onTick: () => {},
    onChunk: (blob) => {
      if (keptId) saving = saving.then(() => store.append(keptId, blob)).catch(() => {});
    },
  });
  try {
    await recorder.start();
  } catch (err) {
    if (keptId) store.remove(keptId).catch(() => {});
    toast(t("phone.mic_refused"), "error");
    return;
  }
  recordingId = keptId;
  show("rec-pause", "rec-stop");
  $("rec-state").textContent = t("phone.recording");
  ticker = setInterval(() => { $("rec-time").textContent = clock(recorder.elapsed); }, 200);
});
$("rec-pause").addEventListener("click", () => {
  recorder.pause();
  show("rec-resume", "rec-stop");
  $("rec-state").textContent = t("phone.paused");
});
$("rec-resume").addEventListener("click", () => {
  recorder.resume();
  show("rec-pause", "rec-stop");
  $("rec-state").textContent = t("phone.recording");
});
$("rec-stop").addEventListener("click", async () => {
  let file = await recorder.stop();
  const keptId = recordingId;
  if (keptId) {
    // Send what the phone kept, so the bytes on the server are the bytes saved here.
    await saving;
    try {
      await store.finish(keptId, file.name);
      const kept = await store.file(keptId);
      if (kept && kept.size === file.size) file = kept;
    } catch (err) { /* the copy in the page is sent instead */ }
  }
  clearInterval(ticker);
  $("rec-time").textContent = clock(recorder.elapsed);
  level(0);
  show("rec-start", "rec-discard");
  $("rec-start").lastChild.textContent = ` ${t("phone.record_again")}`;
  $("rec-state").textContent = t("phone.recorded", { time: clock(recorder.elapsed) });
  choose(file, "", keptId);
  $("m-title").focus();
});
function resetRecorder() {
  choose(null);
  $("rec-start").lastChild.textContent = ` ${t("phone.record")}`;
  show("rec-start");
  $("rec-time").textContent = "0:00";
  $("rec-state").textContent = t("phone.ready_to_record");
  $("pick-file").value = "";
}
$("rec-discard").addEventListener("click", () => {
  const keptId = recordingId;
  recordingId = null; // discarded on purpose: not kept
  if (keptId) store.remove(keptId).catch(() => {});
  resetRecorder();
});
$("pick-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  if (file.size > settings.maxBytes) { toast(t("phone.too_large"), "error"); return; }
  choose(file, t("phone.picked", { name: file.name, mb: (file.size / 1048576).toFixed(1) }));
});

function progress(sent, total) {
  const percent = total ? Math.floor((sent / total) * 100) : 0;
  $("upload-bar").hidden = false;
  $("upload-bar").firstElementChild.style.width = `${percent}%`;
  $("upload-bar").setAttribute("aria-valuenow", String(percent));
  $("upload-status").textContent = t("phone.sending", { percent, mb: (total / 1048576).toFixed(1) });
}

function status(kind, values = {}) {
  if (kind === "retrying") $("upload-status").textContent = t("phone.retrying", values);
}

$("memo-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!chosen || !chosen.size) return;
  const form = event.currentTarget;
  const due = form.elements.due_at.value;
  const metadata = {
    title: form.elements.title.value.trim(),
    priority: form.elements.priority.value,
    language: form.elements.language.value,
    note: form.elements.note.value.trim(),
    due_at: due ? new Date(due).toISOString() : "",
  };
  $("send").disabled = true;
  try {
    let done;
    if (recordingId) {
      // Kept with its details first: if the page dies now, it is still sent later.
      await store.queue(recordingId, metadata);
      done = await outbox.send(recordingId, { onProgress: progress, onStatus: status });
      recordingId = null;
    } else {
      done = await new ResumableUpload(chosen, { metadata, onProgress: progress, onStatus: status }).start();
    }
    if (done.duplicateOf) {
      alreadySent(done.memoId, done.duplicateOf);
    } else {
      $("upload-status").textContent = t("phone.sent");
      toast(t("phone.sent"));
      addMemo(done.memoId, metadata.title || chosen.name);
    }
    form.reset();
    resetRecorder();
  } catch (err) {
    if (recordingId) {
      // Kept on the phone with its details: listed, and sent again when the network is back.
      release();
      resetRecorder();
      $("upload-status").textContent = `${t("phone.failed", { reason: err.message })} ${t("phone.kept_on_phone")}`;
      outbox.drain();
      return;
    }
    $("upload-status").textContent = t("phone.failed", { reason: err.message });
    $("send").disabled = false;
  }
});

/** The server had this recording already: say when it was sent and link its memo, so the
 * author does not wonder which of two memos is the real one. */
function alreadySent(memoId, sentAt) {
  const when = new Date(sentAt).toLocaleString(document.documentElement.lang || undefined,
    { dateStyle: "medium", timeStyle: "short" });
  const box = $("upload-status");
  box.textContent = `${t("phone.already_sent", { date: when })} `;
  const link = document.createElement("a");
  link.id = "duplicate-link";
  link.href = `/phone/memos/${memoId}`;
  link.textContent = t("phone.open_memo");
  box.appendChild(link);
  toast(t("phone.already_sent", { date: when }));
}

function addMemo(memoId, title) {
  if (!memoId || document.querySelector(`[data-memo-id="${memoId}"]`)) return;
  $("no-memos")?.remove();
  const item = document.createElement("li");
  item.dataset.memoId = memoId;
  item.dataset.state = "received";
  const link = document.createElement("a");
  link.href = `/phone/memos/${memoId}`;
  link.textContent = title;
  const chip = document.createElement("span");
  chip.className = "chip state-received";
  chip.textContent = t("state.received");
  const left = document.createElement("span");
  left.append(link);
  item.append(left, chip);
  $("my-memos").prepend(item);
}

// Memos still in the machine are asked about every few seconds.
const MOVING = ["received", "transcribing", "scheduled", "publishing"];
setInterval(async () => {
  for (const item of document.querySelectorAll("#my-memos [data-memo-id]")) {
    if (!MOVING.includes(item.dataset.state)) continue;
    const result = await request("GET", api(`/memos/${item.dataset.memoId}`));
    if (!result.ok || result.data.status === item.dataset.state) continue;
    item.dataset.state = result.data.status;
    const chip = item.querySelector(".chip");
    chip.className = `chip state-${result.data.status}`;
    chip.textContent = t(`state.${result.data.status}`);
    showPostLink(item, result.data.published_url);
  }
}, 4000);

/** The "View post" link once the memo is out; only a web address becomes a link. */
function showPostLink(item, url) {
  if (!url || !/^https?:\/\//i.test(url) || item.querySelector(".view-post")) return;
  const link = document.createElement("a");
  link.className = "view-post";
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = t("publish.view_post");
  link.setAttribute("aria-label", t("publish.view_post_of", { title: item.querySelector("a")?.textContent || "" }));
  item.querySelector(".chip").before(link, " ");
}
