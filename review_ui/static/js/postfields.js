// The publish tab's post fields. Slug, excerpt and tags are made by the server from the title
// and text (compose.derive) until someone types in one: from then on that field is "set by
// hand" until "Make it from the text again". They are saved with the draft (draft.js, the same
// If-Match save), so the preview and the publish check see what was typed. And the featured
// image: sent as it is, the server reads its type from its first bytes.
import { api, request, t, toast } from "./common.js";

const NAMES = ["slug", "excerpt", "tags"];

/** The adapters DraftEditor saves with the text: {name: {input, get(), set(value)}}. */
export function postFields(root) {
  const fields = {};
  for (const name of NAMES) {
    const input = root.querySelector(`#post-${name}`);
    if (!input) continue;
    fields[name] = name === "tags"
      ? { input, get: () => splitTags(input.value), set: (v) => { input.value = (v || []).join(", "); } }
      : { input, get: () => input.value, set: (v) => { input.value = v ?? ""; } };
  }
  return fields;
}

export class PostFieldsPanel {
  constructor({ root, draft, manual }) {
    Object.assign(this, { root, draft });
    this.manual = new Set(manual || []);
    for (const name of NAMES) {
      const box = this.box(name);
      if (!box) continue;
      // Typed in: set by hand from now on (the save tells the server so).
      draft.fields[name].input.addEventListener("input", () => { this.manual.add(name); this.show(); });
      box.querySelector("[data-automatic]").addEventListener("click", () => {
        this.manual.delete(name);
        this.show();
        draft.makeAutomatic(name);
        draft.save();
      });
    }
    draft.onSaved((saved) => {
      if (!saved.manual_fields) return;
      this.manual = new Set(saved.manual_fields);
      this.show();
    });
  }

  box(name) {
    return this.root.querySelector(`.post-field[data-field="${name}"]`);
  }

  show() {
    for (const name of NAMES) {
      const box = this.box(name);
      if (!box) continue;
      const manual = this.manual.has(name);
      box.dataset.manual = manual ? "1" : "0";
      const state = box.querySelector(`#post-${name}-state`);
      state.textContent = manual ? state.dataset.manualText : state.dataset.automaticText;
      box.querySelector("[data-automatic]").hidden = !manual;
    }
  }

  /** What the preview shows for the post fields (only the ones set by hand count there). */
  previewValues() {
    return { ...this.draft.fieldValues(), manual: [...this.manual] };
  }
}

export function splitTags(text) {
  return text.split(",").map((tag) => tag.trim()).filter(Boolean);
}

/** The featured image: pick a file to send it at once; remove it. */
export function installFeaturedImage({ draftId, file, thumb, none, remove, onChange }) {
  const show = (data) => {
    const url = data.featured_image;
    thumb.hidden = !url;
    none.hidden = Boolean(url);
    remove.hidden = !url;
    if (url) thumb.src = `${url}?v=${data.version}`;
    else thumb.removeAttribute("src");
    onChange?.();
  };
  file.addEventListener("change", async () => {
    const picked = file.files[0];
    if (!picked) return;
    // The bytes as they are: the server decides the type from them, not from the name.
    const result = await request("PUT", api(`/drafts/${draftId}/featured-image`), {
      body: picked, headers: { "Content-Type": "application/octet-stream" },
    });
    file.value = "";
    if (!result.ok) { toast(result.message, "error"); return; }
    show(result.data);
    toast(t("post.image_set"));
  });
  remove.addEventListener("click", async () => {
    const result = await request("DELETE", api(`/drafts/${draftId}/featured-image`));
    if (!result.ok) { toast(result.message, "error"); return; }
    show(result.data);
    toast(t("post.image_removed"));
  });
}
