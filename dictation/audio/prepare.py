"""A memo's audio made ready for the desk in one streamed pass: its playback copy, its
waveform, its length and what could not be decoded. Memory stays flat however long it is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dictation.audio.decode import OPUS_RATE, SAMPLE_RATE, DecodeReport, Source, iter_decode
from dictation.audio.peaks import PeakMeter
from dictation.audio.playback import make_playback_copy


@dataclass(frozen=True)
class Prepared:
    duration: float  # seconds decoded, silence put in for lost packets included
    peaks: list[float]  # the waveform, as `peaks` draws it
    report: DecodeReport  # gaps, stated length, whether too little was heard


def prepare(source: Source, playback_dest: str | os.PathLike | None = None,
            max_seconds: float | None = None) -> Prepared:
    """Decode `source` once: write the playback copy to `playback_dest` (when given), measure
    peaks and length on the way. TooLarge past `max_seconds`, BadAudio when nothing decodes."""
    report = DecodeReport(max_seconds=max_seconds)
    if playback_dest is not None:
        meter = PeakMeter(OPUS_RATE)
        make_playback_copy(source, Path(playback_dest), report=report, listen=meter.add)
    else:
        meter = PeakMeter(SAMPLE_RATE)
        for block in iter_decode(source, report=report):
            meter.add(block)
    return Prepared(duration=round(report.decoded, 3), peaks=meter.values(), report=report)
