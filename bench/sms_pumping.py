"""SMS pumping: how many SMS can one client make ovoz send in an hour, to 200 different
valid numbers, before and after the destination and budget defences (issue 11)?

``python -m bench --only sms-pumping`` (or ``python -m bench.sms_pumping`` alone).

ovoz is built by ``bootstrap`` on a fresh schema, with a fake clock and an SMS gateway
that counts what it is handed (nothing leaves the machine). One client address asks
``Identity.send_code`` for a code for each of 200 numbers, one every 18 s of the fake
clock, so that the run spans exactly one hour (one budget window). The numbers are a
pump's mix: Uzbek mobiles across operator prefixes (some walking one block of 10,000, as
pumps walk the ranges they are paid for) and mobiles in North Korea, Iran and Cuba, Iridium
satellite (+881) and international networks (+882) — all valid to ``phonenumbers``.

- **before**: every country allowed, every budget off (``SMS_ALLOWED_COUNTRIES=*``,
  ``SMS_MAX_*=0``): only the per-number rules, which a pump that never asks twice for one
  number never meets. The issue measured 724 SMS a minute from one client like this.
- **after**: the default settings (``UZ`` only; 20 per client, 50 per block, 1000 in all
  an hour).
- **botnet**: the same numbers with the defaults, each request from an address of its own:
  what the block and total budgets hold when the per-client one cannot.

Rows count the SMS handed to the gateway (the bill); ratio = after ÷ before.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.database import DEFAULT_URL, scratch_environment
from bench.report import Row, table
from domain.errors import InvalidPhoneNumberError, RateLimitedError
from domain.phone import normalise_mobile, region_of
from domain.ports import Clock, SmsMessage, SmsSender
from infrastructure.bootstrap import bootstrap
from infrastructure.config import Settings

PUMP = "203.0.113.66"
ASKS = 200
_STEP = 3600 / ASKS  # seconds of the fake clock between two asks: one hour in all
_OLD_BEHAVIOUR = {
    "SMS_ALLOWED_COUNTRIES": "*",
    "SMS_MAX_PER_IP_PER_HOUR": "0",
    "SMS_MAX_PER_PREFIX_PER_HOUR": "0",
    "SMS_MAX_PER_HOUR": "0",
}
_NAMES = {"001": "+881/+882 (satellite, international)"}


class _Clock(Clock):
    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


@dataclass
class _Gateway(SmsSender):
    """Counts what it is handed, by destination country."""

    sent: Counter[str] = field(default_factory=Counter)

    def send(self, message: SmsMessage) -> None:
        self.sent[region_of(message.to)] += 1


@dataclass(frozen=True)
class Pumped:
    """What one hour of asking got: SMS by country, answers by kind, wall seconds."""

    sent: Counter[str]
    answers: Counter[str]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.sent.values())


def pump_numbers() -> list[str]:
    """200 distinct valid mobile numbers, a pump's mix, in a fixed shuffled order."""
    uzbek = [f"+998{op}{n:07d}" for op in (90, 91, 93, 94, 95, 97, 98, 99, 33, 88, 77, 50)
             for n in (1234567, 2345678, 3456789, 4567890, 5678901, 6789012, 7890123,
                       8901234, 9012345)]  # fmt: skip
    walked = [f"+99890123{n:04d}" for n in range(12)]  # one block, number after number
    foreign = (
        [f"+8501921{n:06d}" for n in range(20)]  # KP
        + [f"+98912{n:07d}" for n in range(20)]  # IR
        + [f"+535{n:07d}" for n in range(20)]  # CU
        + [f"+8816{n:08d}" for n in range(10)]  # Iridium
        + [f"+882342{n:04d}" for n in range(10)]  # international networks
    )
    numbers = [normalise_mobile(p) for p in [*uzbek, *walked, *foreign]]  # all valid
    assert len(set(numbers)) == len(numbers) == ASKS, "the mix is 200 distinct numbers"
    random.Random(11).shuffle(numbers)
    return numbers


def pump(
    database_url: str, numbers: Sequence[str], client: Callable[[int], str], **env: str
) -> Pumped:
    """Ask for a code for each of ``numbers`` across one hour of a fake clock."""
    gateway, clock = _Gateway(), _Clock()
    answers: Counter[str] = Counter()
    with scratch_environment(database_url, "bench_sms_", **env) as settings_env:
        ovoz = bootstrap(Settings.from_env(settings_env), sms=gateway, clock=clock)
        try:
            started = time.perf_counter()
            for i, phone in enumerate(numbers):
                answers[_ask(ovoz.identity.send_code, phone, client(i))] += 1
                clock.current += timedelta(seconds=_STEP)
            took = time.perf_counter() - started
        finally:
            ovoz.close()
    return Pumped(gateway.sent, answers, took)


def _ask(send: Callable[[str, str], object], phone: str, client: str) -> str:
    try:
        send(phone, client)
    except InvalidPhoneNumberError:
        return "InvalidPhoneNumber"
    except RateLimitedError:
        return "RateLimited"
    return "OtpSent"


def bench_sms_pumping(database_url: str = DEFAULT_URL) -> list[Row]:
    numbers = pump_numbers()
    asked = Counter(region_of(n) for n in numbers)
    before = pump(database_url, numbers, lambda _: PUMP, **_OLD_BEHAVIOUR)
    after = pump(database_url, numbers, lambda _: PUMP)
    botnet = pump(database_url, numbers, lambda i: f"198.18.{i // 250}.{i % 250 + 1}")
    rows = [
        Row(
            f"SMS one client triggers in an hour, {ASKS} different valid numbers",
            after.total,
            before.total,
            after.total / before.total,
            "SMS",
            f"after (defaults) {_answers(after)}; before (all countries, no budgets) "
            f"{_answers(before)}, {before.total / before.seconds * 60:.0f} SMS a minute "
            "of wall time in process",
        )
    ]
    for region in sorted(asked, key=lambda r: (-asked[r], r)):
        rows.append(
            Row(
                f"  of which to {_NAMES.get(region, region)} ({asked[region]} asked)",
                after.sent[region],
                before.sent[region],
                after.sent[region] / before.sent[region] if before.sent[region] else None,
                "SMS",
            )
        )
    rows.append(
        Row(
            f"the same {ASKS} numbers, each asked from an address of its own (defaults)",
            botnet.total,
            before.total,
            botnet.total / before.total,
            "SMS",
            f"{_answers(botnet)}; by country {dict(sorted(botnet.sent.items()))}",
        )
    )
    return rows


def _answers(pumped: Pumped) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(pumped.answers.items()))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sms_pumping", description=__doc__)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    args = p.parse_args(argv)
    print(table(bench_sms_pumping(args.database_url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
