// The transcript: one span per word with its timing. A click plays from that word; while
// playing, the spoken word is highlighted and kept in view until the user scrolls away.

export class Transcript {
  constructor(container, player, followButton) {
    this.container = container;
    this.player = player;
    this.followButton = followButton;
    this.words = [...container.querySelectorAll(".w[data-s]")];
    this.starts = this.words.map((w) => Number(w.dataset.s));
    this.current = null;
    this.follow = true;

    container.addEventListener("click", (event) => {
      const target = event.target.closest(".w[data-s], .seg-time[data-s]");
      if (!target) return;
      this.setFollow(true);
      player.playFrom(Number(target.dataset.s));
    });
    // Only what a person does counts as scrolling away; our own scrollIntoView does not.
    const away = () => { if (this.player.playing) this.setFollow(false); };
    container.addEventListener("wheel", away, { passive: true });
    container.addEventListener("touchmove", away, { passive: true });
    container.addEventListener("pointerdown", (event) => { if (event.target === container) away(); });
    container.addEventListener("keydown", (event) => {
      if (["PageUp", "PageDown", "ArrowUp", "ArrowDown", "Home", "End"].includes(event.key)) away();
    });
    followButton.addEventListener("click", () => { this.setFollow(true); this.reveal(this.current, true); });
    player.onTime((time) => this.update(time));
  }

  setFollow(on) {
    this.follow = on;
    this.followButton.hidden = on;
  }

  /** The last word that has started by `time` (binary search), or -1. */
  indexAt(time) {
    let lo = 0, hi = this.starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= time + 0.01) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }

  update(time) {
    const index = this.indexAt(time);
    const word = index >= 0 ? this.words[index] : null;
    if (word === this.current) return;
    if (this.current) {
      this.current.classList.remove("now");
      this.current.removeAttribute("aria-current");
    }
    this.current = word;
    if (!word) return;
    word.classList.add("now");
    word.setAttribute("aria-current", "time");
    if (this.follow) this.reveal(word, false);
  }

  reveal(word, force) {
    if (!word) return;
    const box = this.container.getBoundingClientRect();
    const at = word.getBoundingClientRect();
    const margin = box.height * 0.2;
    if (force || at.top < box.top + margin / 2 || at.bottom > box.bottom - margin) {
      word.scrollIntoView({ block: "center", behavior: force ? "smooth" : "auto" });
    }
  }
}
