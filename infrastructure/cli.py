"""The ``ovoz`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from infrastructure.bootstrap import bootstrap
from infrastructure.config import ConfigError, Settings
from infrastructure.rebuild import SPECS
from infrastructure.server import API, PROJECTOR, WORKER, run_api, run_background


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ovoz", description="Self-hosted speech-to-text.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run everything in one process")
    api = commands.add_parser("api", help="run the GraphQL API only")
    for p in (serve, api):
        p.add_argument("--host", help="address to listen on (default 127.0.0.1, or $HOST)")
        p.add_argument("--port", type=int, help="port to listen on (default 8000, or $PORT)")
    commands.add_parser("projector", help="keep the read models up to date")
    commands.add_parser("worker", help="run transcription jobs")
    transcribe = commands.add_parser("transcribe", help="transcribe audio files here and now")
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio or video files")
    transcribe.add_argument("--model", help="model spec (default $WHISPER_MODEL / WHISPER_MODELS)")
    transcribe.add_argument("--language", help="language code, e.g. uz (default: detect)")
    transcribe.add_argument("--format", default="txt", choices=("txt", "srt", "vtt", "json"))
    transcribe.add_argument("--prompt", help="what the recording is about (names, topic)")
    transcribe.add_argument(
        "--vocabulary",
        default="",
        metavar="TERMS",
        help="comma-separated names and terms to steer towards, e.g. 'Chorsu, Gulnora'",
    )
    transcribe.add_argument(
        "--output-dir", help="write FILE-stem.FORMAT here (default: stdout for one file, else .)"
    )
    commands.add_parser("models", help="list the speech models configured per language")
    commands.add_parser("schema", help="print the GraphQL schema (SDL), as in schema.graphql")
    projections = commands.add_parser("projections", help="manage the read models")
    rebuild = projections.add_subparsers(dest="projections_command", required=True).add_parser(
        "rebuild", help="replay the log into fresh read models and swap them in"
    )
    rebuild.add_argument(
        "name", nargs="?", choices=tuple(SPECS), help="one read model (default: all)"
    )
    keys = commands.add_parser("keys", help="manage the data keys").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser(
        "rotate",
        help="re-wrap every data key under MASTER_KEY (old keys in MASTER_KEY_PREVIOUS)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":  # needs no settings: the schema is the same everywhere
        return _print_schema()
    return _run(args)


def _print_schema() -> int:
    from graphql_api.schema import build_schema

    sys.stdout.write(build_schema(production=False).as_str().rstrip("\n") + "\n")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"ovoz: configuration error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    if overrides:
        settings = settings.with_listen(**overrides)
    if args.command == "serve":
        run_api(settings, {API, PROJECTOR, WORKER})
    elif args.command == "api":
        run_api(settings, {API})
    elif args.command == "projector":
        run_background(settings, {PROJECTOR})
    elif args.command == "worker":
        run_background(settings, {WORKER})
    elif args.command == "keys":
        return _rotate_keys(settings)
    elif args.command == "transcribe":
        return _transcribe(settings, args)
    elif args.command == "models":
        return _models(settings)
    elif args.command == "projections":
        return _rebuild(settings, [args.name] if args.name else list(SPECS))
    return 0


def _rebuild(settings: Settings, names: list[str]) -> int:
    from infrastructure.rebuild import rebuild

    ovoz = bootstrap(settings)
    try:
        for name in names:
            bar = _ProgressBar(name)

            def show(
                done: int, total: int, rate: float, bar: _ProgressBar = bar, name: str = name
            ) -> None:
                bar.label = f"{name}  {done}/{total} events, {rate:,.0f} events/s"
                bar.update(done / total if total else 1.0)

            report = rebuild(ovoz, name, show)
            bar.label = name
            bar.update(1.0)
            bar.close()
            print(
                f"{name}: {report.events} events in {report.seconds:.1f} s "
                f"({report.events_per_second:,.0f} events/s), swapped in"
            )
    finally:
        ovoz.close()
    return 0


def _transcribe(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from domain.vocabulary import (
        InvalidPromptError,
        InvalidVocabularyError,
        clean_prompt,
        clean_vocabulary,
    )
    from infrastructure.formats import render
    from infrastructure.transcription_errors import TranscriptionError
    from infrastructure.whisper import EngineSettings, WhisperEngine

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    engine_settings = EngineSettings.from_settings(settings)
    if args.model:
        engine_settings = replace(engine_settings, default_model=args.model, models={})
    engine = WhisperEngine(engine_settings)
    try:
        vocabulary = clean_vocabulary(args.vocabulary.split(","))
        prompt = clean_prompt(args.prompt)
    except (InvalidVocabularyError, InvalidPromptError) as e:
        print(f"ovoz: {e}", file=sys.stderr)
        return 2
    to_stdout = len(args.files) == 1 and not args.output_dir
    out_dir = Path(args.output_dir or ".")
    failed = 0
    for name in args.files:
        bar = _ProgressBar(Path(name).name)
        try:
            result = engine.transcribe(
                Path(name),
                args.language,
                on_progress=bar.update,
                prompt=prompt,
                vocabulary=vocabulary,
            )
        except TranscriptionError as e:
            bar.close()
            print(f"ovoz: {name}: {e.reason}: {e.detail}", file=sys.stderr)
            failed += 1
            continue
        bar.close()
        output = render(
            args.format,
            result.text,
            result.segments,
            limits=settings.subtitles,
            language=result.language,
            language_probability=result.language_probability,
            language_uncertain=result.language_uncertain,
            duration=result.duration,
            model=result.model_name,
        )
        if to_stdout:
            sys.stdout.write(output)
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{Path(name).stem}.{args.format}"
            target.write_text(output, encoding="utf-8")
            print(f"{name} -> {target}", file=sys.stderr)
    return 1 if failed else 0


class _ProgressBar:
    """``[#######.............]  35% name`` on stderr, redrawn in place."""

    WIDTH = 30

    def __init__(self, label: str) -> None:
        self.label = label
        self._drawn = ""
        self.update(0.0)

    def update(self, fraction: float) -> None:
        percent = max(0, min(100, int(fraction * 100)))
        done = percent * self.WIDTH // 100
        line = f"[{'#' * done}{'.' * (self.WIDTH - done)}] {percent:3d}% {self.label}"
        if line == self._drawn:
            return
        # Pad over a longer previous line, then return to its start.
        sys.stderr.write("\r" + line.ljust(len(self._drawn)))
        sys.stderr.flush()
        self._drawn = line

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def _models(settings: Settings) -> int:
    from infrastructure.languages import language_support
    from infrastructure.whisper import describe_models

    statuses = describe_models(settings)
    rows = [("LANGUAGE", "SPEC", "PATH", "LOADS")]
    for s in statuses:
        loads = "yes" if s.loads else f"no: {s.error}"
        rows.append((s.language, s.spec, str(s.path) if s.path else "-", loads))
    _print_table(rows)
    print()
    support = [("LANGUAGE", "MODEL", "HANDLED", "")]
    for lang in language_support(settings):
        support.append((lang.code, lang.model, "yes" if lang.supported else "no", lang.why))
    _print_table(support)
    print()
    print(f"SPEAKERS  {_speaker_labels(settings)}")
    return 0 if all(s.loads for s in statuses) else 1


def _speaker_labels(settings: Settings) -> str:
    from infrastructure import speakers

    path = speakers.weights_path()
    if path is None:
        return "no: the voice encoder is not installed (pip install --no-deps resemblyzer==0.1.4)"
    if not settings.speaker_labels:
        return f"off (SPEAKER_LABELS); the voice encoder is at {path}"
    return f"yes, voice encoder {path}"


def _print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Columns padded to their widest cell; the last column as it is."""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(
            (
                "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
            ).rstrip()
        )


def _rotate_keys(settings: Settings) -> int:
    ovoz = bootstrap(settings)
    try:
        moved = ovoz.keys.rotate()
    finally:
        ovoz.close()
    print(f"re-wrapped {moved} data key(s) under the current master key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
