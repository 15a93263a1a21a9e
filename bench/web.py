"""The web client: first-load JavaScript, and two latencies measured in the browser.

``python -m bench --only web`` (or ``python -m bench.web``). Needs Node.js 20.19+ and
Chromium (``/usr/bin/chromium`` or ``$CHROMIUM_PATH``); builds ``web/`` if it is not built.

- **first-load JS**: gzip -9 of every script and module preload ``web/dist/index.html``
  names (``web/scripts/bundle-size.mjs``), against the issue's budget of 200 KB.
- **upload click → first progress shown** and **COMPLETED committed → COMPLETED painted**:
  ``web/e2e/bench.spec.ts`` in Chromium against a real ``ovoz serve`` (embedded PostgreSQL,
  the bundled model), three uploads of the test clip; the first from the file input's change
  event to the first frame showing the upload's progress, the second from the server's
  ``updatedAt`` of the completed recording to the first frame after the library row says
  Completed (one machine, one wall clock). No baseline: they are end-to-end figures of the
  page, to track from run to run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.report import Row, table

WEB = Path(__file__).resolve().parents[1] / "web"
BUDGET_BYTES = 200 * 1024


def _npm(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["npm", *args], cwd=WEB, check=True, capture_output=True, text=True, env=env
    )
    return done.stdout


def _npx(*args: str, env: dict[str, str]) -> None:
    subprocess.run(["npx", *args], cwd=WEB, check=True, env=env)


def bench_web() -> list[Row]:
    if not (WEB / "node_modules").is_dir():
        _npm("ci", "--no-audit", "--no-fund", "--loglevel=error")
    if not (WEB / "dist" / "index.html").is_file():
        _npm("run", "--silent", "build")
    size = json.loads(
        subprocess.run(
            ["node", "scripts/bundle-size.mjs"], cwd=WEB, check=True, capture_output=True
        ).stdout
    )
    first_load = size["firstLoadJsGzipBytes"]
    rows = [
        Row(
            "first-load JS, gzipped (web/dist/index.html)",
            first_load / 1024,
            BUDGET_BYTES / 1024,
            first_load / BUDGET_BYTES,
            "KiB",
            f"{len(size['files'])} files; baseline: the issue's budget of 200 KB",
        )
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        env = {**os.environ, "OVOZ_BENCH": "1", "OVOZ_BENCH_OUT": str(out)}
        _npx("playwright", "test", "e2e/bench.spec.ts", env=env)
        measured = json.loads(out.read_text())
    for key, name in (
        ("uploadClickToFirstProgressMs", "upload click → first progress shown"),
        ("completedCommittedToPaintedMs", "COMPLETED committed → COMPLETED painted"),
    ):
        figure = measured[key]
        samples = ", ".join(f"{s:.0f}" for s in figure["samples"])
        rows.append(
            Row(
                f"{name} (browser)",
                figure["median"],
                None,
                None,
                "ms",
                f"median of {measured['runs']} ({samples} ms), clip {measured['clip']}",
            )
        )
    return rows


def main() -> int:
    print(table(bench_web()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
