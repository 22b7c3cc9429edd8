"""Audio in and out: phone formats to 16 kHz mono float32, a playback copy, loudness, peaks.

Everything goes through PyAV (no system ffmpeg); PyAV's exceptions never leave this package:
input that cannot be read raises `BadAudio` with a sentence a person understands.

- `sniff`: telling audio from other files by their first bytes;
- `decode`: probing, streamed decoding and resampling, loudness;
- `playback`: the Opus copy the browser plays, remuxing;
- `peaks`: the waveform the editor draws;
- `prepare`: playback copy, peaks, length and decode gaps in one streamed pass;
- `amr`: AMR voice notes (DTX included) through opencore-amr;
- `edit`: joining recordings into one file (pydub, on decoded PCM).
"""

from dictation.audio.decode import (
    SAMPLE_RATE,
    AudioInfo,
    DecodeReport,
    Source,
    check_stated_length,
    decode,
    iter_decode,
    loudness_dbfs,
    probe,
)
from dictation.audio.peaks import PeakMeter, peaks
from dictation.audio.playback import make_playback_copy, remux
from dictation.audio.prepare import Prepared, prepare
from dictation.audio.sniff import looks_like, sniff

__all__ = [
    "SAMPLE_RATE", "AudioInfo", "DecodeReport", "PeakMeter", "Prepared", "Source", "check_stated_length",
    "decode", "iter_decode", "looks_like", "loudness_dbfs", "make_playback_copy", "peaks", "prepare", "probe",
    "remux", "sniff",
]
