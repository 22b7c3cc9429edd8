// The editor page: player, transcript, draft with autosave, preview and keys, wired.
import { pageData, t } from "./common.js";
import { DraftEditor } from "./draft.js";
import { HelpOverlay, installKeys } from "./keys.js";
import { installActions, installComments, installTabs, Preview, refreshHead } from "./panels.js";
import { ParagraphMap } from "./paragraphs.js";
import { Player } from "./player.js";
import { installFeaturedImage, PostFieldsPanel, postFields } from "./postfields.js";
import { installLookedAt, PublishPanel } from "./publish.js";
import { RevisionsPanel } from "./revisions.js";
import { Transcript } from "./transcript.js";

const data = pageData("editor-data");
const $ = (id) => document.getElementById(id);

const player = new Player({
  audio: $("audio"), playButton: $("play"), now: $("t-now"), total: $("t-total"), wave: $("wave"),
  speed: $("speed"), speedOut: $("speed-out"), peaks: data.peaks, duration: data.duration, rewind: data.rewind,
  gaps: data.gaps, gapLabel: data.gapLabel,
});
$("back").addEventListener("click", () => player.skip(-5));
$("forward").addEventListener("click", () => player.skip(5));

const transcript = new Transcript($("transcript"), player, $("follow"));
const help = new HelpOverlay($("help"), $("help-open"), $("help-close"), $("rewind-setting"), player);
const paragraphs = new ParagraphMap(data.paragraphs);

let draft = null;
let publish = null;
if (data.draftId) {
  draft = new DraftEditor({
    draftId: data.draftId, version: data.version, title: data.title, body: data.body,
    titleInput: $("draft-title"), bodyInput: $("draft-body"), stateEl: $("save-state"), fields: postFields($("post-fields")),
    conflict: {
      root: $("conflict"), mine: $("conflict-mine"), theirs: $("conflict-theirs"), theirsBy: $("conflict-theirs-by"),
      keepMine: $("conflict-keep-mine"), takeTheirs: $("conflict-take-theirs"),
    },
  });
  const preview = new Preview($("preview-frame"), data.memoId, (text, index) => {
    const start = paragraphs.startOf(text, index);
    if (start !== null) player.playFrom(start);
  });
  const fieldsPanel = new PostFieldsPanel({ root: $("post-fields"), draft, manual: data.manualFields });
  preview.extra = () => fieldsPanel.previewValues();
  const refresh = (delay) => preview.schedule(() => $("draft-title").value, () => $("draft-body").value, delay);
  installFeaturedImage({
    draftId: data.draftId, file: $("featured-file"), thumb: $("featured-thumb"), none: $("featured-none"),
    remove: $("featured-remove"), onChange: () => refresh(0),
  });
  installLookedAt({ transcript: $("transcript"), draftId: data.draftId, lookedAt: data.lookedAt, label: t("editor.looked_at") });
  draft.onChange(() => refresh(500));
  refresh(0);

  // Alt+click in the text plays the paragraph under the pointer from where it was spoken.
  $("draft-body").addEventListener("click", (event) => {
    if (!event.altKey) return;
    const box = event.currentTarget;
    const block = ParagraphMap.blockAt(box.value, box.selectionStart);
    const start = block ? paragraphs.startOf(block.text, block.index) : null;
    if (start !== null) player.playFrom(start);
  });

  installComments(data.draftId, $("comment-form"), $("comments"), $("comment-count"));
  installActions({ container: $("actions"), draftId: data.draftId, beforeAction: () => draft.save(), dialog: $("reason-dialog") });
  const revisions = new RevisionsPanel({
    memoId: data.memoId, draftId: data.draftId, draft, select: $("revision"), target: $("diff"),
    restoreButton: $("restore-revision"),
  });
  $("tab-changes").addEventListener("tab-shown", () => revisions.load());
  // The page's heading and the browser tab follow a renamed title once it is saved.
  const heading = $("memo-heading");
  draft.onSaved((saved) => {
    if (!saved.title || heading.textContent === saved.title) return;
    const suffix = document.title.includes(" · ") ? document.title.slice(document.title.lastIndexOf(" · ")) : "";
    heading.textContent = saved.title;
    document.title = saved.title + suffix;
  });
  let state = data.state;
  draft.onSaved((saved) => {
    if (saved.status === state) return;
    // An edit of a signed-off text sent it back to review: say so where the text is.
    if (state === "approved" && saved.status === "in_review") {
      $("approved-note")?.setAttribute("hidden", "");
      $("back-to-review").hidden = false;
    }
    state = saved.status;
    refreshHead();
  });
  publish = new PublishPanel({
    memoId: data.memoId, draftId: data.draftId, form: $("publish-form"), list: $("publications"),
    stateChip: $("state-chip"), postLink: $("post-link"), tab: $("tab-publish"), openButton: $("open-publish"),
    beforePublish: () => draft.save(), checkDialog: $("check-dialog"),
  });
  // A save may make the live post differ from the draft (or no longer): the list says so.
  let differs = Boolean(document.querySelector("#publications [data-live-differs]"));
  draft.onSaved((saved) => {
    if (saved.live_differs !== differs) publish.refresh();
    differs = saved.live_differs;
  });
}
installTabs(document.querySelector('[role="tablist"]'));
installKeys({ player, draft, help });

// For tests and for the curious: the parts of this page, on one name.
window.desk = { player, transcript, draft, paragraphs, publish };
