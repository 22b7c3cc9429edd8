// Words compose wrote from the desk's vocabulary where the model heard another form: marked
// under the draft (title "was: blood"); a click puts the heard form back through the API (a
// save with If-Match like any other), after saving what is being typed.
import { api, request, t, toast } from "./common.js";

const strip = document.getElementById("learned-words");

function button(word) {
  const mark = document.createElement("button");
  mark.type = "button";
  mark.className = word.reverted ? "learned reverted" : "learned";
  mark.dataset.learned = String(word.id);
  mark.textContent = word.reverted ? word.heard : word.written;
  mark.title = word.reverted ? t("editor.learned_reverted", { written: word.written }) : t("editor.learned_was", { heard: word.heard });
  mark.setAttribute("aria-label", `${mark.textContent}: ${mark.title}`);
  mark.disabled = word.reverted;
  mark.dataset.heard = word.heard;
  mark.dataset.written = word.written;
  return mark;
}

async function revert(mark) {
  const draft = window.desk?.draft;
  if (!draft || !(await draft.save())) return;
  const result = await request("POST", api(`/drafts/${strip.dataset.draft}/learned/${mark.dataset.learned}/revert`), {
    headers: { "If-Match": `"${draft.version}"` },
  });
  if (result.status === 412) return draft.openConflict(result.data?.current);
  if (!result.ok) return toast(result.message, "error");
  draft.version = result.data.version;
  draft.saved = { ...draft.saved, title: result.data.title, body_markdown: result.data.body_markdown };
  draft.bodyInput.value = result.data.body_markdown;
  draft.show("saved", t("editor.saved_version", { v: draft.version }));
  mark.replaceWith(button({ id: mark.dataset.learned, heard: mark.dataset.heard, written: mark.dataset.written, reverted: true }));
  toast(t("editor.learned_done"));
}

async function load() {
  if (!strip) return;
  const result = await request("GET", api(`/drafts/${strip.dataset.draft}/learned`));
  if (!result.ok || !result.data.length) return;
  const list = strip.querySelector("[data-learned-list]");
  for (const word of result.data) {
    list.append(button(word), " ");
  }
  strip.hidden = false;
  list.addEventListener("click", (event) => {
    const mark = event.target.closest("button.learned:not(:disabled)");
    if (mark) revert(mark);
  });
}

load();
