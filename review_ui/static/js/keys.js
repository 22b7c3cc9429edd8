// The typist's keys, active everywhere on the editor page, the text included: the hands
// never leave the keyboard to drive the audio. The browser's own use of these keys (F1
// help, F3 find, Ctrl+J downloads) is suppressed here.
import { clock } from "./common.js";

export function installKeys({ player, draft, help }) {
  const bindings = {
    Escape: () => player.toggle(),
    F1: () => player.skip(-5),
    F2: () => player.skip(5),
    F3: () => player.slower(),
    F4: () => player.faster(),
  };

  window.addEventListener("keydown", (event) => {
    if (help.isOpen()) {
      if (event.key === "Escape" || (event.ctrlKey && event.key === "/")) {
        event.preventDefault();
        help.close();
      }
      return;
    }
    if (document.querySelector(".conflict:not([hidden])") || document.querySelector("dialog[open]")) return;
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    if (plain && !event.shiftKey && bindings[event.key]) {
      event.preventDefault();
      bindings[event.key]();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && !event.altKey) {
      const key = event.key.toLowerCase();
      if (key === "j" && draft) {
        event.preventDefault();
        draft.insert(`[${clock(player.time)}] `, { spaced: true });
      } else if (key === "s" && draft) {
        event.preventDefault();
        draft.save();
      } else if (key === "/") {
        event.preventDefault();
        help.open();
      }
    }
  }, { capture: true });
}

export class HelpOverlay {
  constructor(root, openButton, closeButton, rewindInput, player) {
    Object.assign(this, { root, openButton, player });
    openButton.addEventListener("click", () => this.open());
    closeButton.addEventListener("click", () => this.close());
    root.addEventListener("click", (event) => { if (event.target === root) this.close(); });
    // The rewind on resume is the typist's own taste: kept in this browser.
    const stored = localStorage.getItem("dictation-rewind");
    if (stored !== null && Number.isFinite(Number(stored))) player.rewind = Number(stored);
    rewindInput.value = String(player.rewind);
    rewindInput.addEventListener("change", () => {
      const value = Math.min(10, Math.max(0, Number(rewindInput.value) || 0));
      player.rewind = value;
      localStorage.setItem("dictation-rewind", String(value));
    });
  }

  isOpen() { return !this.root.hidden; }

  open() {
    this.returnTo = document.activeElement;
    this.root.hidden = false;
    this.root.querySelector("button, input").focus();
  }

  close() {
    this.root.hidden = true;
    (this.returnTo || this.openButton).focus();
  }
}
