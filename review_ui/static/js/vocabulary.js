// The Vocabulary page: play an example where the model misheard, accept (for everyone or one
// author) or reject a proposal, withdraw a decision. Decisions go to the JSON API; the page
// then reloads, so the tables are the server's own.
import { api, request, t, toast } from "./common.js";

const message = document.getElementById("vocab-message");
const audio = document.getElementById("vocab-audio");
let stopAt = null;

function refused(result) {
  message.textContent = result.message;
  message.hidden = false;
  toast(result.message, "error");
}

// An example plays the memo's playback copy from a little before the heard words to a little
// after them: a word alone is too short to recognise.
audio.addEventListener("timeupdate", () => {
  if (stopAt !== null && audio.currentTime >= stopAt) { audio.pause(); stopAt = null; }
});

document.addEventListener("click", async (event) => {
  const play = event.target.closest("[data-play-memo]");
  if (play) {
    const start = Math.max(0, Number(play.dataset.start) - 1);
    stopAt = Number(play.dataset.end) + 1;
    const source = api(`/memos/${play.dataset.playMemo}/playback`);
    try {
      if (!audio.src.endsWith(source)) {
        audio.src = source;
        audio.load(); // preload="none": nothing is fetched until asked, so ask for it now
        await new Promise((resolve, reject) => {
          audio.addEventListener("loadedmetadata", resolve, { once: true });
          audio.addEventListener("error", reject, { once: true });
        });
      }
      audio.currentTime = start;
      await audio.play();
    } catch {
      toast(t("vocab.cannot_play"), "error");
    }
    return;
  }
  const decide = event.target.closest("[data-decide]");
  if (decide) {
    const row = decide.closest("[data-proposal]");
    const option = row.querySelector("[data-scope]").selectedOptions[0];
    const body = {
      heard: row.dataset.heard, written: row.dataset.written, language: row.dataset.language,
      accept: decide.dataset.decide === "accept", scope: option.value,
    };
    if (option.dataset.author) body.author_id = Number(option.dataset.author);
    const result = await request("POST", api("/vocabulary"), { json: body });
    if (!result.ok) return refused(result);
    window.location.reload();
    return;
  }
  const withdraw = event.target.closest("[data-withdraw]");
  if (withdraw) {
    const result = await request("DELETE", api(`/vocabulary/${withdraw.dataset.withdraw}`));
    if (!result.ok) return refused(result);
    window.location.reload();
  }
});
