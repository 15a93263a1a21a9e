"""Every benchmark entry, in the order ``python -m bench`` runs them.

An entry is a name (what ``--only`` takes), a description (what ``--list`` prints) and a
function from the run (:class:`bench.harness.Bench`) to rows of :class:`bench.report.Row`.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bench.cancel import bench_cancel
from bench.diarization import bench_speakers
from bench.e2e import Bare, bench_e2e
from bench.encryption import bench_encryption
from bench.entries import TEST_CODE, Me
from bench.eta import bench_eta
from bench.harness import EDITOR, LISTENER, READER, UPLOADER, Bench, free_port
from bench.live import bench_delivery, bench_rebuild
from bench.quiet_speech import bench_quiet_speech
from bench.recordings import MAX_EXECUTED, SEED_ROWS, WARM_SKIP, Audios, Edits, seed_audios
from bench.recordings import sign_in as sign_in_sync
from bench.refresh import REFRESHERS, baseline_lanes, ovoz_lanes, refresh_baseline, refresh_ovoz
from bench.report import Row, throughput_row
from bench.servers import ServerProcess
from bench.signin_abuse import bench_signin_abuse
from bench.sms_pumping import bench_sms_pumping
from bench.transcription import bench_engine
from bench.upload import MIB, measure_upload, write_wav
from bench.vocabulary import bench_vocabulary
from bench.web import bench_web
from bench.webhooks import bench_webhooks
from infrastructure.config import Settings


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    run: Callable[[Bench], list[Row]]
    default: bool = True  # runs without --only
    shares_servers: bool = False  # measures against Bench.api(), the shared server pair


def _signin(bench: Bench) -> list[Row]:
    api, o = bench.api(), bench.options
    # The baseline reads the challenges of phones ovoz signed in: ovoz goes first.
    rate = bench.run(api.ovoz.url, api.sign_in.ovoz(), o.signins).per_second
    base_rate = bench.run(api.base.url, api.sign_in.baseline(), o.signins).per_second
    return [throughput_row("sign-in round trip (sendOtp+verifyOtp)", rate, base_rate)]


def _me(bench: Bench) -> list[Row]:
    api = bench.api()
    m = Me(list(api.sign_in.tokens.items()) or list(api.warm_in.tokens.items()))
    rates = bench.pair((api.ovoz.url, m.ovoz()), (api.base.url, m.baseline()), 10**6, 50)
    return [throughput_row("authenticated query { me { id role } }", *rates)]


def _audios(bench: Bench) -> list[Row]:
    api, db = bench.api(), bench.db
    owner, token = sign_in_sync(api.ovoz.url, READER, TEST_CODE)
    took = seed_audios(db.url, db.schema, uuid.UUID(owner))
    result = []
    for executed, label in ((True, "every request executed"), (False, "repeated reads")):
        warm = Audios(token, executed, first_skip=WARM_SKIP)
        bench.warm_up(api.ovoz.url, warm.ovoz(), 100)
        bench.warm_up(api.base.url, warm.baseline(), 100)
        op = Audios(token, executed)
        measured = bench.pair(
            (api.ovoz.url, op.ovoz()),
            (api.base.url, op.baseline()),
            MAX_EXECUTED if executed else 10**6,
        )
        note = (
            f"{SEED_ROWS} rows COPYed into the audios read model in {took:.1f} s "
            "(read path only); 5 fields x 50 rows + total; "
            + ("skip = request number: no two requests alike" if executed else
               "identical request (skip 0)")
        )  # fmt: skip
        result.append(throughput_row(f"audios(limit: 50), {label}", *measured, note=note))
    return result


def _edit(bench: Bench) -> list[Row]:
    api, db, o = bench.api(), bench.db, bench.options
    _, token = sign_in_sync(api.ovoz.url, EDITOR, TEST_CODE)
    clip = o.audio_dir / "en_deepspeech_LDC93S1.wav"
    edits = Edits.prepare(api.ovoz.url, token, clip, o.concurrency, db.url, db.schema)
    rates = bench.pair((api.ovoz.url, edits.ovoz()), (api.base.url, edits.baseline()), 10**6, 40)
    return [
        throughput_row(
            "updateAudio (event+projection+RYW wait)",
            *rates,
            note="baseline: JWT check + one INSERT in its own transaction",
        )
    ]


def _upload(bench: Bench) -> list[Row]:
    o = bench.options
    with ServerProcess("ovoz", free_port(), bench.env) as ovoz:
        ovoz.wait_healthy()
        big = bench.var_dir / "upload.wav"
        minutes = write_wav(big, o.upload_mib * MIB) / 60
        _, token = sign_in_sync(ovoz.url, UPLOADER, TEST_CODE)
        m = measure_upload(
            ovoz.url, ovoz.pid, token, big, o.audio_dir / "en_deepspeech_LDC93S1.wav"
        )
        big.unlink()
    note = (
        f"{m.size_bytes / MIB:.0f} MiB WAV ({minutes:.0f} min) in {m.seconds:.1f} s; "
        f"baseline = same server idle after one small upload (cold idle {m.cold_idle_mib:.0f}); "
        f"{m.samples} samples, sampled peak {m.sampled_peak_mib:.0f}; "
        f"client RSS growth {m.client_peak_growth_mib:.0f} MiB; target growth < 50 MiB"
    )
    return [
        Row(
            f"upload {o.upload_mib} MiB: server peak RSS",
            m.peak_mib,
            m.idle_mib,
            m.peak_mib / m.idle_mib,
            "MiB",
            f"GROWTH {m.growth_mib:.1f} MiB; {note}",
        )
    ]


def _e2e(bench: Bench) -> list[Row]:
    from infrastructure.models import resolve_model

    o, env = bench.options, bench.env
    settings = Settings.from_env({**os.environ, **env})
    resolve_model(o.whisper_model, settings.whisper_models_dir)  # assemble once, up front
    port = free_port()
    argv = [sys.executable, "-m", "infrastructure.cli", "serve", "--port", str(port)]
    with ServerProcess("ovoz-serve", port, env, argv=argv) as serve:
        bare = Bare({**os.environ, **env}, o.audio_dir / "jfk.flac")
        try:
            serve.wait_healthy()
            _, token = sign_in_sync(serve.url, LISTENER, TEST_CODE)
            return bench_e2e(serve, bare, token, o.whisper_model, o.e2e_rounds, o.audio_dir)
        finally:
            bare.close()


def _engine(bench: Bench) -> list[Row]:
    return bench_engine(bench.options.whisper_model, bench.options.audio_dir)


def _encryption(bench: Bench) -> list[Row]:
    return bench_encryption(bench.db.url)


def _live(bench: Bench) -> list[Row]:
    return bench_delivery(bench.db.url) + bench_rebuild(bench.db.url)


def _refresh(bench: Bench) -> list[Row]:
    api, db, o = bench.api(), bench.db, bench.options
    count = min(len(REFRESHERS), max(o.concurrency, 1))
    lanes = ovoz_lanes(api.ovoz.url, count)
    base_lanes = baseline_lanes(db.url, db.schema, count)
    rates = bench.pair(
        (api.ovoz.url, refresh_ovoz(lanes)),
        (api.base.url, refresh_baseline(base_lanes)),
        10**6,
        50,
    )
    note = (
        f"{count} sessions, each refreshed by one request at a time; ovoz loads the session "
        "(snapshot + at most 50 events), appends SessionRefreshed, signs the JWT "
        "(no read-your-writes wait)"
    )
    return [throughput_row("refreshSession (rotate) vs one-row read + write", *rates, note=note)]


def _signin_abuse(bench: Bench) -> list[Row]:
    # A server of its own on a schema of its own: the flood must not share the other
    # entries' server, and their sign-ins must not share its numbers.
    return bench_signin_abuse(bench.options.database_url, bench.options.quick)


def _sms_pumping(bench: Bench) -> list[Row]:
    return bench_sms_pumping(bench.db.url)


def _cancel(bench: Bench) -> list[Row]:
    return bench_cancel(bench.db.url)


def _eta(bench: Bench) -> list[Row]:
    return bench_eta(bench.db.url)


def _quiet_speech(bench: Bench) -> list[Row]:
    return bench_quiet_speech(bench.options.whisper_model, bench.options.audio_dir)


def _speakers(bench: Bench) -> list[Row]:
    return bench_speakers()


def _vocabulary(bench: Bench) -> list[Row]:
    return bench_vocabulary()


def _web(bench: Bench) -> list[Row]:
    return bench_web()


def _webhooks(bench: Bench) -> list[Row]:
    return bench_webhooks(bench.db.url)


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "signin",
        "sendOtp + verifyOtp round trips vs the same challenge reads",
        _signin,
        shares_servers=True,
    ),
    Entry("me", "{ me { id role } } vs the same JWT check and row read", _me, shares_servers=True),
    Entry(
        "audios",
        "audios(limit: 50) over 10,000 rows, executed and repeated",
        _audios,
        shares_servers=True,
    ),
    Entry("edit", "updateAudio vs a JWT check and one INSERT", _edit, shares_servers=True),
    Entry(
        "refresh",
        "refreshSession (rotation) vs a bare one-row read and write",
        _refresh,
        shares_servers=True,
    ),
    Entry("upload", "server peak RSS while a large WAV streams in vs the same idle", _upload),
    Entry("e2e", "upload→COMPLETED through ovoz serve vs bare faster-whisper", _e2e),
    Entry(
        "engine",
        "slow: batched vs sequential inference, worker memory on long audio",
        _engine,
        default=False,
    ),
    Entry(
        "encryption",
        "event append/load with per-subject encryption vs the plain mapper",
        _encryption,
        default=False,
    ),
    Entry(
        "live",
        "WebSocket delivery latency vs plain LISTEN; audios rebuild vs a table scan",
        _live,
        default=False,
    ),
    Entry(
        "signin-abuse",
        "verifyOtp timing for live vs unknown numbers; `me` latency under a flood",
        _signin_abuse,
        default=False,
    ),
    Entry(
        "sms-pumping",
        "SMS one client triggers in an hour to 200 numbers: defaults vs no defences",
        _sms_pumping,
        default=False,
    ),
    Entry(
        "cancel",
        "cancelTranscription → engine stopped, batched and sequential, on 10 min of speech",
        _cancel,
        default=False,
    ),
    Entry(
        "eta",
        "etaSeconds at upload vs the actual time to COMPLETED, clips and a 10-min file",
        _eta,
        default=False,
    ),
    Entry(
        "speakers",
        "speaker labels: DER on 2- and 3-speaker conversations of the shared clips; cost",
        _speakers,
        default=False,
    ),
    Entry(
        "vocabulary",
        "term recall and WER with a vocabulary vs without, on rare names and ordinary clips",
        _vocabulary,
        default=False,
    ),
    Entry(
        "quiet-speech",
        "recall of a speaker 20 dB below another: ovoz vs bare faster-whisper; clip WER",
        _quiet_speech,
        default=False,
    ),
    Entry(
        "web",
        "web client: first-load JS gzipped vs 200 KB; upload→progress, commit→paint in Chromium",
        _web,
        default=False,
    ),
    Entry(
        "webhooks",
        "webhook delivery commit→receiver p50/p99 at 50 completions/s vs a bare POST",
        _webhooks,
        default=False,
    ),
)
BY_NAME = {entry.name: entry for entry in ENTRIES}
DEFAULT = tuple(entry.name for entry in ENTRIES if entry.default)
