"""The SSRF rules webhooks are held to, and the Standard Webhooks signature."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as ReferenceVerifier

from domain.webhooks import InvalidWebhookUrlError, new_secret, secret_bytes
from infrastructure.webhook_dispatcher import DeliveryPolicy, sign
from infrastructure.webhook_urls import UrlRules, allowed_hosts


def _resolver(answers: dict[str, list[str]]) -> UrlRules:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return UrlRules(production=True, resolve=resolve)


PRODUCTION = _resolver({"public.example": ["93.184.216.34", "2606:2800:220:1::1"]})


def _reason(rules: UrlRules, url: str) -> str:
    with pytest.raises(InvalidWebhookUrlError) as caught:
        rules.check(url)
    return caught.value.reason


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # CGNAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fd00::1",  # ULA
        "fe80::1",  # link-local
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:93.184.216.34",  # mapped, even to a public address
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "198.18.0.1",  # benchmarking
        "240.0.0.1",  # reserved
    ],
)
def test_production_refuses_every_non_public_address(address: str) -> None:
    assert not PRODUCTION.allows(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    assert _reason(PRODUCTION, f"https://{host}/hook") == "ADDRESS_NOT_ALLOWED"


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1"])
def test_production_allows_public_addresses(address: str) -> None:
    assert PRODUCTION.allows(ipaddress.ip_address(address))


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    rules = _resolver({"mixed.example": ["93.184.216.34", "10.1.2.3"]})
    assert _reason(rules, "https://mixed.example/") == "ADDRESS_NOT_ALLOWED"
    assert PRODUCTION.check("https://public.example/hook?x=1") == "https://public.example/hook?x=1"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://public.example/hook", "NOT_HTTPS"),
        ("ftp://public.example/", "MALFORMED"),
        ("https://", "MALFORMED"),
        ("not a url", "MALFORMED"),
        ("https://public.example/\x00", "MALFORMED"),
        ("https://public.example/\ud800", "MALFORMED"),
        ("https://user:pass@public.example/", "CREDENTIALS_IN_URL"),
        ("https://public.example:99999/", "MALFORMED"),
        ("https://nowhere.example/", "UNRESOLVABLE"),
        ("https://public.example/" + "a" * 2048, "TOO_LONG"),
    ],
)
def test_production_refuses_bad_urls_with_a_reason(url: str, reason: str) -> None:
    assert _reason(PRODUCTION, url) == reason


def test_allowed_hosts_are_exempt_from_both_rules() -> None:
    rules = UrlRules(production=True, allowed_hosts=allowed_hosts(["127.0.0.1", "Hooks.Internal"]))
    assert rules.check("http://127.0.0.1:8080/hook")
    target = UrlRules(
        production=True,
        allowed_hosts=allowed_hosts(["hooks.internal"]),
        resolve=lambda host, port: ["10.0.0.7"],
    ).target("http://hooks.internal/x")
    assert target.addresses == ("10.0.0.7",)
    assert _reason(rules, "http://127.0.0.2/hook") == "NOT_HTTPS"


def test_development_allows_http_and_loopback_but_never_metadata() -> None:
    rules = UrlRules(production=False)
    assert rules.check("http://127.0.0.1:9000/hook")
    assert rules.check("http://[::1]:9000/hook")
    assert _reason(rules, "http://169.254.169.254/latest/meta-data") == "ADDRESS_NOT_ALLOWED"
    assert _reason(rules, "http://[fe80::1]/") == "ADDRESS_NOT_ALLOWED"
    assert _reason(rules, "http://0.0.0.0:9000/") == "ADDRESS_NOT_ALLOWED"
    assert _reason(rules, "http://[::ffff:169.254.169.254]/") == "ADDRESS_NOT_ALLOWED"


def test_signature_is_accepted_by_the_reference_verifier() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_bytes(secret)) == 32
    body = json.dumps({"type": "transcription.completed", "data": {"audioId": "x"}}).encode()
    timestamp = str(int(datetime.now(UTC).timestamp()))
    headers = {
        "webhook-id": "msg_abc",
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, "msg_abc", timestamp, body),
    }
    assert ReferenceVerifier(secret).verify(body, headers)["type"] == "transcription.completed"
    tampered = body.replace(b"x", b"y")
    with pytest.raises(Exception, match="signature"):
        ReferenceVerifier(secret).verify(tampered, headers)


def test_backoff_is_full_jitter_under_a_growing_base() -> None:
    policy = DeliveryPolicy(backoff=(5, 30, 120))
    assert policy.delay(1, lambda low, high: high) == 5
    assert policy.delay(2, lambda low, high: high) == 30
    assert policy.delay(9, lambda low, high: high) == 120  # the last base repeats
    assert policy.delay(3, lambda low, high: low) == 0
    assert sum(DeliveryPolicy().backoff) >= 15 * 3600  # with retry_for, about a day
