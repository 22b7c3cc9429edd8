// The author signs off a draft, or asks for changes with a reason.
import { api, pageData, request, t, toast } from "./common.js";

const { draftId, version } = pageData("signoff-data");
for (const form of document.querySelectorAll("form[data-action]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.querySelector("textarea")?.value.trim() || null;
    // A sign-off names the version on this page: had the text changed since, it is refused
    // with the reason, never signed unread.
    const headers = form.dataset.action === "approve" && version ? { "If-Match": `"${version}"` } : {};
    const result = await request("POST", api(`/drafts/${draftId}/transitions`), {
      json: { action: form.dataset.action, comment: reason }, headers,
    });
    if (!result.ok) { toast(result.message, "error"); return; }
    toast(t("signoff.done"));
    setTimeout(() => window.location.assign("/phone"), 900);
  });
}
