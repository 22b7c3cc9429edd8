// Where a paragraph of the draft lies in the audio. The machine's paragraphs carry their
// time range; an edited paragraph is matched to the one it shares most words with, and a
// time mark typed with Ctrl+J ("[1:23]") wins over both.

const MARK = /\[(?:(\d+):)?(\d{1,2}):(\d{2})\]/;

function words(text) {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}']+/gu) || []).filter((w) => w.length > 2));
}

export function timeMark(text) {
  const m = MARK.exec(text);
  if (!m) return null;
  return Number(m[1] || 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/** The blocks of a Markdown text (split on blank lines) with their character ranges. */
export function blocks(markdown) {
  const found = [];
  const re = /[^\n]+(?:\n(?!\s*\n)[^\n]*)*/g;
  let m;
  while ((m = re.exec(markdown))) {
    if (m[0].trim()) found.push({ text: m[0], from: m.index, to: m.index + m[0].length });
  }
  return found;
}

export class ParagraphMap {
  constructor(paragraphs) {
    this.paragraphs = (paragraphs || []).map((p) => ({ ...p, words: words(p.text || "") }));
  }

  /** Start time in seconds for a block of text (the index-th of the draft), or null. */
  startOf(text, index) {
    const marked = timeMark(text);
    if (marked !== null) return marked;
    const mine = words(text);
    let best = null, bestScore = 0;
    for (const p of this.paragraphs) {
      if (!p.words.size || !mine.size) continue;
      let shared = 0;
      for (const w of mine) if (p.words.has(w)) shared++;
      const score = shared / Math.min(mine.size, p.words.size);
      if (score > bestScore) { best = p; bestScore = score; }
    }
    if (best && bestScore >= 0.3) return Number(best.start);
    const same = this.paragraphs[index];
    return same ? Number(same.start) : null;
  }

  /** The block of `markdown` that holds character `position`, with its index. */
  static blockAt(markdown, position) {
    const all = blocks(markdown);
    for (let i = 0; i < all.length; i++) {
      if (position >= all[i].from && position <= all[i].to) return { ...all[i], index: i };
    }
    return null;
  }
}
