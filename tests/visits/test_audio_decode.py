"""F3: audio decoded for real with the system's ffmpeg (codec, duration), a playable copy for
codecs browsers cannot play; built from the real AISHELL-1 WAV in tests/visits/data."""

import subprocess
import tempfile

import pytest

from visits import media

from .factories import data_file

WAV = "zh_aishell1_BAC009S0724W0121.wav"


def encode(args: list[str], suffix: str) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".wav") as source, tempfile.NamedTemporaryFile(suffix=suffix) as target:
        source.write(data_file(WAV))
        source.flush()
        subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-y", "-i", source.name, *args, target.name], check=True, timeout=60)
        return target.read()


def test_a_real_wav_is_decoded_with_codec_and_duration():
    inspected = media.inspect_audio(data_file(WAV))
    assert inspected.duration_seconds == pytest.approx(4.28, abs=0.02)
    assert [note["codec"] for note in inspected.notes if note["code"] == "audio_codec"] == ["pcm_s16le"]


def test_an_opus_memo_as_browsers_record_it_is_accepted_without_a_copy():
    inspected = media.inspect_audio(encode(["-c:a", "libopus", "-b:a", "24k"], ".webm"))
    assert inspected.content_type == "audio/webm" and inspected.duration_seconds == pytest.approx(4.28, abs=0.1)
    assert "audio_transcoded" not in {note["code"] for note in inspected.notes}


def test_junk_that_starts_with_oggs_does_not_satisfy_the_memo():
    """F3 (the issue's case): `OggS` + junk is refused, not stored as a recording."""
    with pytest.raises(media.FileRejected) as refused:
        media.inspect_audio(b"OggS" + bytes(range(256)) * 40)
    assert "无法解码" in refused.value.message


def test_the_playable_copy_is_aac_in_mp4_and_keeps_the_length():
    copy = media.playable_copy(data_file(WAV))
    assert copy[4:8] == b"ftyp"
    assert media.probe_audio(copy)["codec"] == "aac" and media.probe_audio(copy)["duration"] == pytest.approx(4.28, abs=0.1)


def test_a_missing_ffmpeg_is_a_clear_refusal(settings):
    settings.VISITS_FFPROBE = "/nonexistent/ffprobe"
    with pytest.raises(media.FileRejected) as refused:
        media.inspect_audio(data_file(WAV))
    assert "缺少 ffprobe" in refused.value.message and "安装 ffmpeg" in refused.value.message
