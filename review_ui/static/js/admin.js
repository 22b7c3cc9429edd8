// The admin pages: destinations, users and a user's tokens. Every change goes to the JSON
// API; the API's refusals (the built-in blog, a used destination, the last admin) are shown
// as it words them. After a change the page reloads, so the table is the server's own.
import { api, request, t, toast } from "./common.js";

const FLASH = "admin.flash";
const message = document.getElementById("admin-message");

function refused(result) {
  message.textContent = result.message;
  message.hidden = false;
  toast(result.message, "error");
}

function missing(input) {
  input.focus();
  refused({ message: t("admin.fill_in", { field: input.labels[0].textContent.trim() }) });
}

function reloadWith(text) {
  sessionStorage.setItem(FLASH, text);
  window.location.reload();
}

const flash = sessionStorage.getItem(FLASH);
if (flash) {
  sessionStorage.removeItem(FLASH);
  toast(flash);
}

// --- destinations ---------------------------------------------------------------------
const destinationForm = document.getElementById("destination-form");

function showKind() {
  const kind = destinationForm.elements.kind.value;
  for (const hint of destinationForm.querySelectorAll("[data-kind-hint]")) {
    hint.hidden = hint.dataset.kindHint !== kind;
  }
  for (const field of destinationForm.querySelectorAll("[data-for-kind]")) {
    field.hidden = field.dataset.forKind !== kind;
  }
  // A screen reader reads the hint for the kind chosen, not all four.
  destinationForm.elements.secret.setAttribute("aria-describedby", `secret-hint-${kind} secret-never`);
}

if (destinationForm) {
  destinationForm.elements.kind.addEventListener("change", showKind);
  showKind();
  destinationForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = destinationForm.elements;
    const empty = [f.name, f.url].find((input) => !input.value.trim());
    if (empty) { missing(empty); return; }
    const json = {
      name: f.name.value.trim(), kind: f.kind.value, url: f.url.value.trim(),
      user: f.kind.value === "wordpress" ? f.user.value.trim() || null : null,
      secret: f.secret.value || null, default: f.default.checked, attach_audio: f.attach_audio.checked,
    };
    const result = await request("POST", api("/destinations"), { json });
    if (!result.ok) { refused(result); return; }
    f.secret.value = "";
    reloadWith(t("admin.destination_added", { name: result.data.name }));
  });
}

document.addEventListener("click", async (event) => {
  const makeDefault = event.target.closest("[data-make-default]");
  if (makeDefault) {
    const url = api(`/destinations/${makeDefault.dataset.makeDefault}`);
    const result = await request("PATCH", url, { json: { default: true } });
    if (!result.ok) { refused(result); return; }
    reloadWith(t("admin.default_set", { name: result.data.name }));
    return;
  }
  const remove = event.target.closest("[data-delete-destination]");
  if (remove) {
    if (!window.confirm(t("admin.confirm_delete", { name: remove.dataset.name }))) return;
    const result = await request("DELETE", api(`/destinations/${remove.dataset.deleteDestination}`));
    if (!result.ok) { refused(result); return; }
    reloadWith(t("admin.destination_deleted", { name: remove.dataset.name }));
  }
});

// --- users ----------------------------------------------------------------------------
const userForm = document.getElementById("user-form");
if (userForm) {
  userForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = userForm.elements;
    if (!f.email.value.trim()) { missing(f.email); return; }
    if (f.password.value.length < 8) { f.password.focus(); refused({ message: t("admin.password_hint") }); return; }
    const json = {
      email: f.email.value.trim(), name: f.name.value.trim(), role: f.role.value,
      language: f.language.value || null, password: f.password.value,
    };
    const result = await request("POST", api("/users"), { json });
    if (!result.ok) { refused(result); return; }
    f.password.value = "";
    reloadWith(t("admin.user_added", { email: result.data.email }));
  });
}

async function patchUser(id, json) {
  return request("PATCH", api(`/users/${id}`), { json });
}

document.addEventListener("change", async (event) => {
  const select = event.target.closest("select[data-role]");
  if (!select) return;
  const result = await patchUser(select.dataset.role, { role: select.value });
  if (!result.ok) {
    select.value = select.dataset.current;  // the role did not change: show the one kept
    refused(result);
    return;
  }
  select.dataset.current = result.data.role;
  message.hidden = true;
  toast(t("admin.role_changed", { email: result.data.email, role: t(`role.${result.data.role}`) }));
});

document.addEventListener("click", async (event) => {
  const deactivate = event.target.closest("[data-deactivate]");
  if (deactivate) {
    if (!window.confirm(t("admin.confirm_deactivate", { email: deactivate.dataset.name }))) return;
    const result = await patchUser(deactivate.dataset.deactivate, { is_active: false });
    if (!result.ok) { refused(result); return; }
    reloadWith(t("admin.user_deactivated", { email: result.data.email }));
    return;
  }
  const reactivate = event.target.closest("[data-reactivate]");
  if (reactivate) {
    const result = await patchUser(reactivate.dataset.reactivate, { is_active: true });
    if (!result.ok) { refused(result); return; }
    reloadWith(t("admin.user_reactivated", { email: result.data.email }));
  }
});

// --- one user's tokens ----------------------------------------------------------------
const tokenForm = document.getElementById("admin-token-form");
if (tokenForm) {
  tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = tokenForm.elements.name.value.trim();
    if (!name) { tokenForm.elements.name.focus(); return; }
    const json = { name, user_id: Number(tokenForm.dataset.userId) };
    const result = await request("POST", api("/tokens"), { json });
    if (!result.ok) { refused(result); return; }
    document.getElementById("token-value").textContent = result.data.token;
    document.getElementById("token-new").hidden = false;
    tokenForm.reset();
  });
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-revoke]");
  if (!button || !window.confirm(t("tokens.confirm_revoke"))) return;
  const result = await request("DELETE", api(`/tokens/${button.dataset.revoke}`));
  if (!result.ok) { refused(result); return; }
  const chip = document.createElement("span");
  chip.className = "chip state-failed";
  chip.textContent = t("tokens.revoked");
  button.replaceWith(chip);
  toast(t("tokens.revoked_done"));
});
