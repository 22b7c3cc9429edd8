// End one signed-in browser, or all of them, through the API; ending this one signs out here.
import { api, request, t, toast } from "./common.js";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-end-session]");
  if (!button) return;
  const result = await request("DELETE", api(`/users/me/sessions/${button.dataset.endSession}`));
  if (!result.ok) { toast(result.message, "error"); return; }
  if (button.hasAttribute("data-current")) { window.location.assign("/login"); return; }
  button.closest("tr").remove();
  toast(t("account.ended"));
});

document.getElementById("sign-out-everywhere").addEventListener("click", async () => {
  if (!window.confirm(t("account.everywhere_confirm"))) return;
  const result = await request("POST", api("/session/everywhere"));
  if (!result.ok) { toast(result.message, "error"); return; }
  window.location.assign("/login");
});
