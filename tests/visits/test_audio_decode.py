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


AMR = "zh_aishell1_BAC009S0724W0121_amrnb.amr"  # the WAV above, encoded by opencore-amr at 12.2 kbit/s


def test_a_real_amr_memo_is_decoded_and_marked_for_a_playable_copy():
    """F3: an AMR-NB memo (Android's recorder default, WeChat voice) is decoded for real — codec and
    duration from ffmpeg, not from its `#!AMR` header — and flagged for a browser-playable copy."""
    inspected = media.inspect_audio(data_file(AMR))
    assert inspected.content_type == "audio/amr" and inspected.extension == ".amr"
    assert [note["codec"] for note in inspected.notes if note["code"] == "audio_codec"] == ["amr_nb"]
    assert inspected.duration_seconds == pytest.approx(4.28, abs=0.2)  # ffprobe estimates AMR length
    assert "audio_transcoded" in {note["code"] for note in inspected.notes}


@pytest.mark.parametrize(
    "junk",
    [
        b"#!AMR\n" + bytes(range(256)) * 40,
        b"#!AMR\n" + "这不是录音，只是改了扩展名的文本。".encode() * 200,
        b"#!AMR\n" + b"\x0f" * 4000,  # frame types 1–15 that carry no speech
    ],
)
def test_junk_that_starts_with_the_amr_magic_is_refused(junk):
    """F3: `#!AMR` followed by anything that does not decode is not a voice memo."""
    assert media.sniff_audio(junk)[0] == "audio/amr"
    with pytest.raises(media.FileRejected) as refused:
        media.inspect_audio(junk)
    assert "无法解码" in refused.value.message or "没有声音数据" in refused.value.message


@pytest.mark.django_db
def test_an_amr_memo_is_kept_byte_identical_and_played_as_aac(client, task, alice):
    """F3 through the pages: the original AMR is stored and downloaded byte for byte; the inline
    player gets an AAC/M4A copy the browser can play, with the same length."""
    from visits import services
    from visits.models import ModuleKind

    from .factories import upload
    from .test_authenticity import module_of

    original = data_file(AMR)
    evidence = services.evidence_add(task=task, module=module_of(task, ModuleKind.VOICE_MEMO), upload=upload("录音.amr", original), by=alice)
    assert evidence.content_type == "audio/amr"
    with evidence.file.open("rb") as handle:
        assert handle.read() == original
    client.force_login(alice)
    played = client.get(f"/visits/evidence/{evidence.pk}/file/")
    assert played.status_code == 200 and played["Content-Type"] == "audio/mp4"
    copy = b"".join(played.streaming_content)
    assert copy[4:8] == b"ftyp"
    assert media.probe_audio(copy)["codec"] == "aac" and media.probe_audio(copy)["duration"] == pytest.approx(4.28, abs=0.1)
    downloaded = client.get(f"/visits/evidence/{evidence.pk}/file/?download=1")
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert b"".join(downloaded.streaming_content) == original
