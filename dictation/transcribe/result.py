"""What a transcription produces: small dataclasses, serialisable to JSON and back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Word:
    start: float  # seconds from the start of the memo
    end: float
    word: str  # as the model spelled it, with its leading space
    probability: float  # 0..1, low values are marked in the editor


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str  # with the leading space the model gave it
    avg_logprob: float
    no_speech_prob: float
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    language: str
    duration: float  # seconds of audio, silence included
    segments: list[Segment] = field(default_factory=list)
    language_probability: float = 1.0
    no_speech: bool = False  # nothing was said: an empty transcript, not hallucinated text
    # Spans (start, end) where VAD heard speech but few words came back even after re-decoding.
    sparse_spans: list[tuple[float, float]] = field(default_factory=list)
    engine: str = ""
    model: str = ""

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments).strip()

    @property
    def words(self) -> list[Word]:
        return [word for segment in self.segments for word in segment.words]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        segments = [
            Segment(**{**s, "words": [Word(**w) for w in s.get("words", [])]})
            for s in data.get("segments", [])
        ]
        return cls(
            language=data["language"],
            duration=data["duration"],
            segments=segments,
            language_probability=data.get("language_probability", 1.0),
            no_speech=data.get("no_speech", False),
            sparse_spans=[tuple(span) for span in data.get("sparse_spans", [])],
            engine=data.get("engine", ""),
            model=data.get("model", ""),
        )
