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
    if (name === "tags") {
      fields[name] = { input, get: () => splitTags(input.value), set: (v) => { input.value = (v || []).join(", "); } };
    } else if (name === "slug") {
      // What the address can hold (the API takes a-z, 0-9 and single dashes): "Harbour News" is
      // sent as harbour-news, and the field shows it once the save is back.
      fields[name] = { input, get: () => slugish(input.value), set: (v) => { input.value = v ?? ""; } };
    } else {
      fields[name] = { input, get: () => input.value, set: (v) => { input.value = v ?? ""; } };
    }
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
      // Typed in: set by hand from now on (the save tells the server so); an address typed
      // away to nothing is made from the title again.
      draft.fields[name].input.addEventListener("input", () => {
        if (name === "slug" && !draft.fields.slug.get()) {
          this.manual.delete(name);
          draft.makeAutomatic(name);
        } else {
          this.manual.add(name);
          draft.automatic.delete(name);
        }
        this.show();
      });
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

export function slugish(text) {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 200).replace(/-+$/, "");
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
