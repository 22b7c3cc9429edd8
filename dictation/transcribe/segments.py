"""Timestamps the editor can trust: segments in order, words inside their segment."""

from __future__ import annotations

from dictation.transcribe.result import Segment, Word


def _sec(value: float) -> float:
    return float(round(value, 3))  # plain floats: numpy scalars leak out of the engines


def tidy_segments(segments: list[Segment]) -> list[Segment]:
    """Make timestamps safe for the editor: in order without overlap, start <= end,
    words inside their segment.

    Whisper's word alignment may put a word a few milliseconds outside its segment or
    overlap the previous one; the editor's click-to-seek needs a strict order.
    """
    tidy: list[Segment] = []
    last = 0.0
    for segment in segments:
        if not segment.text.strip():
            continue
        start = max(segment.start, last)
        end = max(segment.end, start)
        words: list[Word] = []
        cursor = start
        for word in segment.words:
            w_start = min(max(word.start, cursor), end)
            w_end = min(max(word.end, w_start), end)
            words.append(Word(_sec(w_start), _sec(w_end), word.word, float(word.probability)))
            cursor = w_end
        tidy.append(
            Segment(
                id=len(tidy),
                start=_sec(start),
                end=_sec(end),
                text=segment.text,
                avg_logprob=float(segment.avg_logprob),
                no_speech_prob=float(segment.no_speech_prob),
                words=words,
            )
        )
        last = end
    return tidy
