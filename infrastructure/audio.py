"""Checking that an uploaded file really is audio we can transcribe (PyAV)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import av

_WAV_HEADER_SCAN = 4096

_DECODE_CHECK_PACKETS = 8
_TRUNCATION_TOLERANCE = 0.98


class InvalidAudioError(Exception):
    """Not audio we can use. ``reason`` is a stable code, the message a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class AudioProbe:
    duration_seconds: float
    container: str
    codec: str
    sample_rate: int
    channels: int


def probe_audio(path: Path, max_seconds: float) -> AudioProbe:
    """Open, demux and partly decode ``path``. Raises InvalidAudioError with reason
    NOT_AUDIO, NO_AUDIO_STREAM, EMPTY, TRUNCATED, UNDECODABLE or TOO_LONG."""
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InvalidAudioError("NOT_AUDIO", "not a media file we can read") from e
    with container:
        if not container.streams.audio:
            raise InvalidAudioError("NO_AUDIO_STREAM", "the file has no audio stream")
        stream = container.streams.audio[0]
        declared = _declared_duration(container, stream)
        if declared is not None and declared > max_seconds:
            raise InvalidAudioError("TOO_LONG", f"longer than {max_seconds:.0f} s")
        end, frames = _demux(container, stream)
        codec = stream.codec_context.name
        rate = stream.codec_context.sample_rate or 0
        channels = stream.codec_context.channels or 0
        container_name = container.format.name
    if frames == 0 or end <= 0:
        raise InvalidAudioError("EMPTY", "the audio stream holds no sound")
    if declared is not None and end < declared * _TRUNCATION_TOLERANCE - 0.5:
        raise InvalidAudioError("TRUNCATED", f"ends at {end:.1f} s of {declared:.1f} s")
    if container_name == "wav" and _wav_is_cut_short(path):
        raise InvalidAudioError("TRUNCATED", "the file is shorter than its header says")
    if end > max_seconds:
        raise InvalidAudioError("TOO_LONG", f"longer than {max_seconds:.0f} s")
    return AudioProbe(
        duration_seconds=round(declared if declared else end, 3),
        container=container_name,
        codec=codec,
        sample_rate=rate,
        channels=channels,
    )


def _wav_is_cut_short(path: Path) -> bool:
    """FFmpeg measures a WAV by its file size, so a cut-off file looks whole to it; the
    RIFF header's data-chunk size still tells how long it should be."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(_WAV_HEADER_SCAN)
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return False
    offset = 12
    while offset + 8 <= len(header):
        chunk_id = header[offset : offset + 4]
        (chunk_size,) = struct.unpack("<I", header[offset + 4 : offset + 8])
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mark a stream written without knowing its length.
            return chunk_size not in (0, 0xFFFFFFFF) and offset + 8 + chunk_size > size
        offset += 8 + chunk_size + (chunk_size & 1)
    return False


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration / av.time_base)
    return None


def _demux(container: av.container.InputContainer, stream: av.AudioStream) -> tuple[float, int]:
    """Walk every packet (cheap: no decoding) to find where the audio really ends, and
    decode the first few to prove the codec data is sound."""
    end = 0.0
    frames = 0
    decoded_packets = 0
    time_base = stream.time_base
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and time_base is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * time_base))
            if decoded_packets < _DECODE_CHECK_PACKETS and packet.size:
                frames += len(packet.decode())
                decoded_packets += 1
            elif packet.size:
                frames += 1
    except av.FFmpegError as e:
        raise InvalidAudioError("UNDECODABLE", "the audio data is damaged") from e
    return end, frames
