// Create a token (shown once, and slotted into the curl line) and revoke tokens.
import { api, request, t, toast } from "./common.js";

const form = document.getElementById("token-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = form.elements.name.value.trim();
  const result = await request("POST", api("/tokens"), { json: { name } });
  if (!result.ok) { toast(result.message, "error"); return; }
  document.getElementById("token-value").textContent = result.data.token;
  for (const slot of document.querySelectorAll(".token-slot")) slot.textContent = result.data.token;
  document.getElementById("token-new").hidden = false;
  form.reset();
});

document.getElementById("token-copy").addEventListener("click", async () => {
  const value = document.getElementById("token-value").textContent;
  try {
    await navigator.clipboard.writeText(value);
    toast(t("tokens.copied"));
  } catch {
    toast(t("tokens.copy_failed"), "error");
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-revoke]");
  if (!button || !window.confirm(t("tokens.confirm_revoke"))) return;
  const result = await request("DELETE", api(`/tokens/${button.dataset.revoke}`));
  if (!result.ok) { toast(result.message, "error"); return; }
  const chip = document.createElement("span");
  chip.className = "chip state-failed";
  chip.textContent = t("tokens.revoked");
  button.replaceWith(chip);
  toast(t("tokens.revoked_done"));
});
