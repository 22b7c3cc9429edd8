"""How one memo is transcribed: every choice in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dictation.errors import InvalidInput

if TYPE_CHECKING:
    from dictation.settings import Settings

ENGINES = ("faster-whisper", "openai-whisper")
LANGUAGES = ("auto", "en", "fr")
# Whisper keeps at most 223 tokens of prompt (half its 448-token context); past that the
# model drops the start, which would be the seed list and the most frequent terms.
PROMPT_BUDGET_TOKENS = 223


def estimated_tokens(text: str) -> int:
    """Tokens Whisper's BPE spends on `text`, from above: names and jargon split into short
    pieces (~2.5 characters a token, against ~4 for common English), plus the ", " between."""
    return -(-len(text) * 2 // 5) + 1


@dataclass(frozen=True)
class TranscribeOptions:
    # faster-whisper is the default: int8 on CPU is 4-5x faster than openai-whisper here.
    engine: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    # A name (base, tiny.en) or a path to a CTranslate2 directory / openai `.pt` file.
    # Multilingual base by default because executives dictate in French too.
    model: str = "base"
    # "auto" detects per memo; forcing it avoids a wrong guess on a short memo.
    language: str = "auto"
    # Greedy decoding (1) was seen to swallow 20 s of French speech; beam search did not.
    beam_size: int = 5
    # Candidates sampled for a window whose beam result failed Whisper's checks (temperature
    # fallback). Five took a worker 105 MB above its usual peak on such a window (bench/memory.py:
    # 565-584 MB on long memos, goal 500); two hold it at the beam's own level.
    best_of: int = 2
    # Voice activity detection: skips silence on long memos and finds "no speech" cheaply.
    vad: bool = True
    # Names and jargon the model should spell as the company does; becomes the initial prompt.
    glossary: tuple[str, ...] = ()
    # Terms the desk learned from corrections, most frequent first (dictation/learning), while
    # the budget lasts: faster-whisper's hotwords (before every window), openai-whisper's prompt.
    vocabulary: tuple[str, ...] = ()
    # A free-text prompt; when set it wins over the glossary.
    initial_prompt: str | None = None
    # int8 keeps the default model fast and under 500 MB on two cores (faster-whisper only);
    # "auto" picks float16 on a GPU and int8 on the CPU (transcribe/device.py).
    compute_type: str = "int8"
    # auto, cpu or cuda: a GPU worker and CPU workers share one queue (faster-whisper only).
    device: str = "cpu"
    # 0 = all cores; workers scale best as processes with 1 thread each.
    cpu_threads: int = 0
    # Word timings drive the editor's click-to-seek and the coverage check.
    word_timestamps: bool = True
    # Memos longer than this are transcribed piece by piece, cut in a pause, so memory
    # stays flat (faster-whisper grows ~0.6 MB per second of audio it holds).
    chunk_seconds: float = 300.0
    # Re-decode spans where VAD heard speech but implausibly few words came back.
    check_coverage: bool = True
    # Below this many words per second over a span of speech, the span is suspect...
    min_words_per_second: float = 0.6
    # ...when the span holds at least this much speech (short spans are often one word).
    min_sparse_seconds: float = 4.0
    # Where models assembled from PyPI parts are kept (settings.model_cache_dir). No default:
    # it comes from the caller's settings, never from a global read here.
    model_cache_dir: Path = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InvalidInput(f"Unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}.")
        if self.language not in LANGUAGES:
            raise InvalidInput(
                f"Unknown language {self.language!r}; choose auto, en (English) or fr (French)."
            )
        if self.beam_size < 1:
            raise InvalidInput("The beam size must be at least 1.")
        if self.chunk_seconds < 10:
            raise InvalidInput("Pieces of a long memo must hold at least 10 seconds of audio.")

    @property
    def forced_language(self) -> str | None:
        return None if self.language == "auto" else self.language

    @property
    def prompt(self) -> str | None:
        """The initial prompt (openai-whisper): explicit text, else the glossary and the learned terms."""
        if self.initial_prompt:
            return self.initial_prompt
        names = self.terms
        return ", ".join(names) + "." if names else None

    @property
    def terms(self) -> list[str]:
        """The glossary, then the learned terms, without repeats, within the prompt budget."""
        names: list[str] = []
        spent = 0
        for name in (*self.glossary, *self.vocabulary):
            name = name.strip()
            if not name or name in names:
                continue
            cost = estimated_tokens(name)
            if spent + cost > PROMPT_BUDGET_TOKENS:
                break
            names.append(name)
            spent += cost
        return names

    @property
    def prompt_beside_hotwords(self) -> str | None:
        """The initial prompt where the learned terms go as hotwords (faster-whisper): explicit
        text, else the glossary alone. Learned terms in both made base continue the list
        ("Okonkwo, Okonkwo, …") in one of four memos of bench/learning.py; as hotwords only,
        none did, and its WER fell from 35 % to 10 %."""
        if self.initial_prompt:
            return self.initial_prompt
        names = [name for name in self.terms if name not in self.vocabulary]
        return ", ".join(names) + "." if names else None

    @property
    def hotwords(self) -> str | None:
        """faster-whisper's hotwords: the learned terms, given before every 30 s window (the
        initial prompt only reaches the first one); None without learned terms."""
        learned = [name for name in self.terms if name in self.vocabulary]
        return ", ".join(learned) if learned else None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> TranscribeOptions:
        glossary = tuple(name.strip() for name in settings.glossary.split(",") if name.strip())
        values: dict[str, object] = dict(
            engine=settings.engine,
            model=settings.model,
            language=settings.language,
            beam_size=settings.beam_size,
            compute_type=settings.compute_type,
            device=settings.device,
            cpu_threads=settings.cpu_threads,
            vad=settings.vad,
            glossary=glossary,
            model_cache_dir=settings.model_cache_dir,
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
