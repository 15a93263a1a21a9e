"""Uploading a large file: how much the server's memory grows while it takes it in.

A fresh ovoz server (the bench's, as ``ovoz serve`` builds it) takes one small upload
first, so that what any first upload loads once (PyAV, the multipart parser) is in the
idle figure; then the large WAV is streamed to it from disk while a thread samples the
server's ``VmRSS`` every 10 ms. The figure is the peak (``VmHWM`` after, or the highest
sample) minus the warm idle ``VmRSS`` just before: the baseline is the same server idle.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.recordings import upload_sync

SAMPLE_RATE = 16_000
MIB = 1024 * 1024


def write_wav(path: Path, data_bytes: int) -> float:
    """A 16 kHz mono 16-bit WAV of ``data_bytes`` of (quiet, varied) PCM, written 1 MiB at
    a time. Returns its duration in seconds."""
    data_bytes -= data_bytes % 2
    block = bytearray(MIB)
    state = 12345
    for i in range(0, MIB, 2):  # a cheap LCG: low-level noise, not compressible silence
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        struct.pack_into("<h", block, i, (state >> 16) % 2001 - 1000)
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        left = data_bytes
        while left:
            n = min(left, MIB)
            f.write(block[:n])
            left -= n
    return data_bytes / 2 / SAMPLE_RATE


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


class Sampler:
    """The highest VmRSS of a process, sampled every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, memory_kib(self.pid)["VmRSS"])
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class UploadMemory:
    size_bytes: int
    seconds: float
    cold_idle_mib: float
    idle_mib: float
    peak_mib: float  # max(VmHWM after, highest sample)
    sampled_peak_mib: float
    samples: int
    client_peak_growth_mib: float

    @property
    def growth_mib(self) -> float:
        return self.peak_mib - self.idle_mib


def _self_rss_kib() -> int:
    return memory_kib(os.getpid())["VmRSS"]


def measure_upload(
    base_url: str, pid: int, token: str, big: Path, small: Path, settle: float = 1.0
) -> UploadMemory:
    cold = memory_kib(pid)["VmRSS"]
    with open(small, "rb") as f:
        upload_sync(base_url, token, f, small.name)
    time.sleep(settle)
    idle = memory_kib(pid)
    client_before = _self_rss_kib()
    started = time.perf_counter()
    with Sampler(pid) as sampler, Sampler(os.getpid(), 0.05) as client, open(big, "rb") as f:
        result = upload_sync(base_url, token, f, big.name)
    seconds = time.perf_counter() - started
    after = memory_kib(pid)
    if result["sizeBytes"] != big.stat().st_size:
        raise RuntimeError(f"uploaded {result['sizeBytes']} bytes of {big.stat().st_size}")
    # VmHWM counts since the process started: it says something only if it moved.
    moved = after["VmHWM"] > idle["VmHWM"]
    peak = max(after["VmHWM"], sampler.peak_kib) if moved else sampler.peak_kib
    return UploadMemory(
        size_bytes=big.stat().st_size,
        seconds=seconds,
        cold_idle_mib=cold / 1024,
        idle_mib=idle["VmRSS"] / 1024,
        peak_mib=peak / 1024,
        sampled_peak_mib=sampler.peak_kib / 1024,
        samples=sampler.samples,
        client_peak_growth_mib=(client.peak_kib - client_before) / 1024,
    )
