// Sign in through the API; the form also works without scripts (the API answers 303).
import { api, request, t } from "./common.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const data = new FormData(form);
  const result = await request("POST", api("/session"), {
    json: { email: data.get("email"), password: data.get("password") },
  });
  if (result.ok) {
    window.location.assign(data.get("next") || "/");
    return;
  }
  error.textContent = result.status === 401 ? t("login.wrong") : result.message;
  error.hidden = false;
  form.querySelector("#password").select();
});
