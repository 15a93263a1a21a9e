"""Settings.from_env: development conveniences and production refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from infrastructure.config import ConfigError, Settings, SmsBudgets
from infrastructure.hashing import usable_cpus

SECRET_NAMES = ("JWT_SECRET", "OTP_PEPPER", "PHONE_HMAC_KEY", "MASTER_KEY")
GOOD_SECRET = "g" * 32


def dev_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"OVOZ_VAR_DIR": str(tmp_path / "var"), **extra}


def prod_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "ENV": "production",
        "OVOZ_VAR_DIR": str(tmp_path / "var"),
        "SMS_BACKEND": "eskiz",
        "ESKIZ_EMAIL": "ops@ovoz.example",
        "ESKIZ_PASSWORD": "pa55word",
        **{name: f"{name.lower()}-" + "x" * 40 for name in SECRET_NAMES},
    }
    env.update(extra)
    return env


# -- development -------------------------------------------------------------------------


def test_development_is_the_default(tmp_path: Path) -> None:
    settings = Settings.from_env(dev_env(tmp_path))
    assert settings.env == "development"
    assert not settings.is_production
    assert settings.sms_backend == "console"


def test_dev_secrets_are_generated_once_and_stable(tmp_path: Path) -> None:
    first = Settings.from_env(dev_env(tmp_path))
    second = Settings.from_env(dev_env(tmp_path))
    values = [first.jwt_secret, first.otp_pepper, first.phone_hmac_key, first.master_key]
    assert values == [
        second.jwt_secret,
        second.otp_pepper,
        second.phone_hmac_key,
        second.master_key,
    ]
    assert len(set(values)) == 4
    assert all(len(v) >= 32 for v in values)


def test_dev_secrets_live_in_var_dir_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings.from_env(dev_env(tmp_path))
    path = tmp_path / "var" / "secrets.json"
    assert settings.var_dir == (tmp_path / "var").resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored) == set(SECRET_NAMES)
    assert stored["JWT_SECRET"].encode() == settings.jwt_secret
    assert not list((tmp_path / "var").glob("*.tmp"))


def test_other_var_dirs_get_other_secrets(tmp_path: Path) -> None:
    one = Settings.from_env({"OVOZ_VAR_DIR": str(tmp_path / "one")})
    two = Settings.from_env({"OVOZ_VAR_DIR": str(tmp_path / "two")})
    assert one.jwt_secret != two.jwt_secret


def test_missing_dev_secret_is_added_and_the_others_are_kept(tmp_path: Path) -> None:
    first = Settings.from_env(dev_env(tmp_path))
    path = tmp_path / "var" / "secrets.json"
    stored = json.loads(path.read_text())
    del stored["MASTER_KEY"]
    path.write_text(json.dumps(stored))
    second = Settings.from_env(dev_env(tmp_path))
    assert second.jwt_secret == first.jwt_secret
    assert second.master_key != first.master_key
    assert "MASTER_KEY" in json.loads(path.read_text())


def test_given_secret_overrides_the_stored_one(tmp_path: Path) -> None:
    settings = Settings.from_env(dev_env(tmp_path, JWT_SECRET=GOOD_SECRET))
    assert settings.jwt_secret == GOOD_SECRET.encode()


def test_short_secret_is_refused_in_development(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        Settings.from_env(dev_env(tmp_path, JWT_SECRET="too-short"))


# -- production --------------------------------------------------------------------------


def test_valid_production_settings_load(tmp_path: Path) -> None:
    settings = Settings.from_env(prod_env(tmp_path))
    assert settings.is_production
    assert settings.jwt_secret == b"jwt_secret-" + b"x" * 40
    assert settings.eskiz is not None
    assert settings.eskiz.email == "ops@ovoz.example"
    assert not (tmp_path / "var" / "secrets.json").exists()


def test_env_name_is_read_case_and_space_insensitively(tmp_path: Path) -> None:
    assert Settings.from_env(prod_env(tmp_path, ENV=" Production ")).is_production


def test_production_without_secrets_names_every_missing_one(tmp_path: Path) -> None:
    env = prod_env(tmp_path)
    for name in SECRET_NAMES:
        del env[name]
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    for name in SECRET_NAMES:
        assert name in str(refused.value)
    assert not (tmp_path / "var" / "secrets.json").exists()


def test_production_never_uses_stored_dev_secrets(tmp_path: Path) -> None:
    Settings.from_env(dev_env(tmp_path))  # writes var/secrets.json
    env = prod_env(tmp_path)
    del env["JWT_SECRET"]
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        Settings.from_env(env)


def test_production_with_one_short_secret_names_only_that_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(prod_env(tmp_path, OTP_PEPPER="p" * 31))
    assert "OTP_PEPPER" in str(refused.value)
    assert "JWT_SECRET" not in str(refused.value)


def test_secret_of_exactly_32_bytes_is_enough(tmp_path: Path) -> None:
    settings = Settings.from_env(prod_env(tmp_path, JWT_SECRET="j" * 32))
    assert settings.jwt_secret == b"j" * 32


def test_production_with_test_numbers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OTP_TEST_NUMBERS"):
        Settings.from_env(prod_env(tmp_path, OTP_TEST_NUMBERS="+998901234567:123456"))


def test_production_with_console_sms_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="console"):
        Settings.from_env(prod_env(tmp_path, SMS_BACKEND="console"))


def test_production_defaults_to_console_sms_and_is_refused(tmp_path: Path) -> None:
    env = prod_env(tmp_path)
    del env["SMS_BACKEND"]
    with pytest.raises(ConfigError):
        Settings.from_env(env)


# -- SMS backends ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [{}, {"ESKIZ_EMAIL": "ops@ovoz.example"}, {"ESKIZ_PASSWORD": "pa55word"}],
)
def test_eskiz_without_credentials_is_refused(tmp_path: Path, credentials: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="ESKIZ"):
        Settings.from_env(dev_env(tmp_path, SMS_BACKEND="eskiz", **credentials))


def test_eskiz_settings_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(
            tmp_path,
            SMS_BACKEND="Eskiz",
            ESKIZ_EMAIL="ops@ovoz.example",
            ESKIZ_PASSWORD="pa55word",
            ESKIZ_FROM="ovoz",
            ESKIZ_BASE_URL="http://127.0.0.1:9/api",
        )
    )
    assert settings.sms_backend == "eskiz"
    assert settings.eskiz is not None
    assert (settings.eskiz.sender, settings.eskiz.base_url) == ("ovoz", "http://127.0.0.1:9/api")


def test_unknown_sms_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        Settings.from_env(dev_env(tmp_path, SMS_BACKEND="carrier-pigeon"))


# -- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("OTP_TTL_SECONDS", "five"),
        ("OTP_MAX_FAILURES", "5.0"),
        ("OTP_RESEND_COOLDOWN_SECONDS", "1e2"),
        ("OTP_MAX_CODES_PER_HOUR", "lots"),
        ("PORT", "http"),
        ("JWT_TTL_SECONDS", "1h"),
        ("MAX_UPLOAD_BYTES", "500MB"),
    ],
)
def test_bad_integer_is_refused_naming_the_variable(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(dev_env(tmp_path, **{name: raw}))


def test_otp_policy_is_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(
            tmp_path,
            OTP_TTL_SECONDS="120",
            OTP_MAX_FAILURES="3",
            OTP_FAILURE_WINDOW_SECONDS="600",
            OTP_RESEND_COOLDOWN_SECONDS="30",
            OTP_MAX_CODES_PER_HOUR="10",
        )
    )
    otp = settings.otp
    assert (otp.code_ttl_seconds, otp.max_failures, otp.failure_window_seconds) == (120, 3, 600)
    assert (otp.resend_cooldown_seconds, otp.max_codes_per_hour) == (30, 10)


def test_otp_policy_defaults_follow_the_issue(tmp_path: Path) -> None:
    otp = Settings.from_env(dev_env(tmp_path, OTP_TTL_SECONDS="")).otp
    assert (otp.code_ttl_seconds, otp.max_failures, otp.failure_window_seconds) == (300, 5, 3600)
    assert (otp.resend_cooldown_seconds, otp.max_codes_per_hour) == (60, 5)


# -- OTP_TEST_NUMBERS and ADMIN_PHONE_NUMBERS --------------------------------------------


def test_test_numbers_are_parsed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(tmp_path, OTP_TEST_NUMBERS=" +998901234567:123456 , +998911112233:000000,")
    )
    assert dict(settings.otp_test_numbers) == {
        "+998901234567": "123456",
        "+998911112233": "000000",
    }


def test_no_test_numbers_by_default(tmp_path: Path) -> None:
    assert dict(Settings.from_env(dev_env(tmp_path)).otp_test_numbers) == {}


@pytest.mark.parametrize(
    "raw",
    [
        "+998901234567",
        "+998901234567=123456",
        "+998901234567:12345",
        "+998901234567:1234567",
        "+998901234567:abcdef",
        "+998901234567:123456,+998911112233",
    ],
)
def test_malformed_test_numbers_are_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="OTP_TEST_NUMBERS"):
        Settings.from_env(dev_env(tmp_path, OTP_TEST_NUMBERS=raw))


@pytest.mark.parametrize("raw", [":123456", "+998901234567:١٢٣٤٥٦"])
def test_test_numbers_without_phone_or_with_unicode_digits_are_refused(
    tmp_path: Path, raw: str
) -> None:
    with pytest.raises(ConfigError, match="OTP_TEST_NUMBERS"):
        Settings.from_env(dev_env(tmp_path, OTP_TEST_NUMBERS=raw))


def test_admin_phone_numbers_are_a_set(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(tmp_path, ADMIN_PHONE_NUMBERS="+998901234567, +998911112233 ,,")
    )
    assert settings.admin_phone_numbers == frozenset({"+998901234567", "+998911112233"})


# -- upload quotas --------------------------------------------------------------------------


def test_upload_quotas_default_to_four_hours_queued_and_five_gib_stored(tmp_path: Path) -> None:
    settings = Settings.from_env(dev_env(tmp_path))
    assert settings.quota_queued_audio_seconds == 4 * 3600
    assert settings.quota_stored_bytes == 5 * 1024**3


def test_upload_quotas_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(
            tmp_path,
            QUOTA_QUEUED_AUDIO_SECONDS="36000.5",
            QUOTA_STORED_BYTES=str(20 * 1024**3),
        )
    )
    assert settings.quota_queued_audio_seconds == 36000.5
    assert settings.quota_stored_bytes == 20 * 1024**3


@pytest.mark.parametrize("raw", ["lots", "0", "-5", "nan", "inf"])
def test_a_queued_audio_quota_that_is_not_a_positive_number_is_refused(
    tmp_path: Path, raw: str
) -> None:
    with pytest.raises(ConfigError, match="QUOTA_QUEUED_AUDIO_SECONDS"):
        Settings.from_env(dev_env(tmp_path, QUOTA_QUEUED_AUDIO_SECONDS=raw))


@pytest.mark.parametrize("raw", ["5GiB", "0", "-1"])
def test_a_stored_bytes_quota_that_is_not_a_positive_integer_is_refused(
    tmp_path: Path, raw: str
) -> None:
    with pytest.raises(ConfigError, match="QUOTA_STORED_BYTES"):
        Settings.from_env(dev_env(tmp_path, QUOTA_STORED_BYTES=raw))


def test_quotas_below_the_per_file_limits_are_refused(tmp_path: Path) -> None:
    """A file that passes MAX_AUDIO_SECONDS / MAX_UPLOAD_BYTES must fit an empty quota."""
    with pytest.raises(ConfigError, match=r"QUOTA_QUEUED_AUDIO_SECONDS.*MAX_AUDIO_SECONDS"):
        Settings.from_env(dev_env(tmp_path, QUOTA_QUEUED_AUDIO_SECONDS="3600"))
    with pytest.raises(ConfigError, match=r"QUOTA_STORED_BYTES.*MAX_UPLOAD_BYTES"):
        Settings.from_env(
            dev_env(tmp_path, MAX_UPLOAD_BYTES="2000000", QUOTA_STORED_BYTES="1000000")
        )
    lowered = Settings.from_env(
        dev_env(tmp_path, MAX_AUDIO_SECONDS="600", QUOTA_QUEUED_AUDIO_SECONDS="600")
    )
    assert lowered.quota_queued_audio_seconds == 600


# -- sign-in under attack ------------------------------------------------------------------


def test_sign_in_abuse_settings_default_to_the_nist_ceiling_and_a_quarter_second(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(dev_env(tmp_path))
    assert settings.otp.max_consecutive_failures == 30
    assert settings.otp.verify_floor_seconds == 0.25
    assert settings.argon2_max_concurrency == max(1, usable_cpus() - 1)


def test_sign_in_abuse_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(
            tmp_path,
            OTP_MAX_CONSECUTIVE_FAILURES="50",
            OTP_VERIFY_FLOOR_SECONDS="0.5",
            ARGON2_MAX_CONCURRENCY="3",
        )
    )
    assert settings.otp.max_consecutive_failures == 50
    assert settings.otp.verify_floor_seconds == 0.5
    assert settings.argon2_max_concurrency == 3
    no_floor = Settings.from_env(dev_env(tmp_path, OTP_VERIFY_FLOOR_SECONDS="0"))
    assert no_floor.otp.verify_floor_seconds == 0


@pytest.mark.parametrize("raw", ["soon", "-0.1", "11", "nan"])
def test_a_verify_floor_outside_zero_to_ten_seconds_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="OTP_VERIFY_FLOOR_SECONDS"):
        Settings.from_env(dev_env(tmp_path, OTP_VERIFY_FLOOR_SECONDS=raw))


@pytest.mark.parametrize(
    ("name", "raw"), [("OTP_MAX_CONSECUTIVE_FAILURES", "1e2"), ("ARGON2_MAX_CONCURRENCY", "0")]
)
def test_bad_sign_in_abuse_integers_are_refused(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(dev_env(tmp_path, **{name: raw}))


def test_a_ceiling_one_client_could_reach_alone_is_refused(tmp_path: Path) -> None:
    """At or below OTP_MAX_FAILURES one stranger would lock the number for everyone."""
    with pytest.raises(ConfigError, match=r"OTP_MAX_CONSECUTIVE_FAILURES.*OTP_MAX_FAILURES"):
        Settings.from_env(dev_env(tmp_path, OTP_MAX_CONSECUTIVE_FAILURES="5"))


def test_the_numbers_hourly_code_ceiling_defaults_to_twenty_and_is_read(tmp_path: Path) -> None:
    assert Settings.from_env(dev_env(tmp_path)).otp.max_codes_per_number_per_hour == 20
    settings = Settings.from_env(dev_env(tmp_path, OTP_MAX_CODES_PER_NUMBER_PER_HOUR="8"))
    assert settings.otp.max_codes_per_number_per_hour == 8
    same = Settings.from_env(dev_env(tmp_path, OTP_MAX_CODES_PER_NUMBER_PER_HOUR="5"))
    assert same.otp.max_codes_per_number_per_hour == same.otp.max_codes_per_hour


@pytest.mark.parametrize("raw", ["many", "0", "4"])
def test_a_number_ceiling_below_one_clients_budget_is_refused(tmp_path: Path, raw: str) -> None:
    """Below OTP_MAX_CODES_PER_HOUR one client's budget would spend the whole number's."""
    with pytest.raises(ConfigError, match="OTP_MAX_CODES_PER_NUMBER_PER_HOUR"):
        Settings.from_env(dev_env(tmp_path, OTP_MAX_CODES_PER_NUMBER_PER_HOUR=raw))


# -- slow clients and proxies ----------------------------------------------------------------


def test_connection_limits_default_to_ten_seconds_a_kib_a_second_and_a_thousand(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(dev_env(tmp_path))
    assert settings.request_timeout == 10.0
    assert settings.request_body_min_rate == 1024.0
    assert settings.max_connections == 1000
    assert settings.forwarded_allow_ips == ("127.0.0.1", "::1")


def test_connection_limits_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(
            tmp_path,
            REQUEST_TIMEOUT="2.5",
            REQUEST_BODY_MIN_RATE="4096",
            MAX_CONNECTIONS="200",
            FORWARDED_ALLOW_IPS="10.0.0.0/8, 192.168.1.7,fd00::/8",
        )
    )
    assert settings.request_timeout == 2.5
    assert settings.request_body_min_rate == 4096
    assert settings.max_connections == 200
    assert settings.forwarded_allow_ips == ("10.0.0.0/8", "192.168.1.7", "fd00::/8")


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("REQUEST_TIMEOUT", "0"),
        ("REQUEST_TIMEOUT", "soon"),
        ("REQUEST_BODY_MIN_RATE", "-1"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_CONNECTIONS", "many"),
    ],
)
def test_connection_limits_that_are_not_positive_numbers_are_refused(
    tmp_path: Path, name: str, raw: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(dev_env(tmp_path, **{name: raw}))


def test_no_trusted_proxy_and_any_proxy_can_be_chosen(tmp_path: Path) -> None:
    assert Settings.from_env(dev_env(tmp_path, FORWARDED_ALLOW_IPS="")).forwarded_allow_ips == ()
    star = Settings.from_env(dev_env(tmp_path, FORWARDED_ALLOW_IPS="*"))
    assert star.forwarded_allow_ips == ("*",)


@pytest.mark.parametrize("raw", ["proxy.internal", "10.0.0.300", "127.0.0.1;10.0.0.1"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused(tmp_path: Path, raw: str) -> None:
    """uvicorn would keep it as a literal that matches no client, and trust nobody."""
    with pytest.raises(ConfigError, match="FORWARDED_ALLOW_IPS"):
        Settings.from_env(dev_env(tmp_path, FORWARDED_ALLOW_IPS=raw))


def test_two_secrets_with_one_value_are_refused(tmp_path: Path) -> None:
    same = "s" * 48
    env = {
        "ENV": "production",
        "OVOZ_VAR_DIR": str(tmp_path),
        "JWT_SECRET": same,
        "OTP_PEPPER": same,
        "PHONE_HMAC_KEY": "p" * 48,
        "MASTER_KEY": "m" * 48,
        "SMS_BACKEND": "eskiz",
        "ESKIZ_EMAIL": "a@b.uz",
        "ESKIZ_PASSWORD": "x",
    }
    with pytest.raises(
        ConfigError, match="JWT_SECRET, OTP_PEPPER must each have a value of its own"
    ):
        Settings.from_env(env)


# -- SMS pumping: destinations and budgets ---------------------------------------------------


def test_codes_go_to_uzbek_numbers_within_hourly_budgets_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env(dev_env(tmp_path))
    assert settings.sms_allowed_countries == frozenset({"UZ"})
    assert settings.sms_budgets == SmsBudgets(per_client=20, per_block=50, total=1000)


def test_sms_destinations_and_budgets_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        dev_env(
            tmp_path,
            SMS_ALLOWED_COUNTRIES=" uz, KZ ,kg,",
            SMS_MAX_PER_IP_PER_HOUR="12",
            SMS_MAX_PER_PREFIX_PER_HOUR="0",
            SMS_MAX_PER_HOUR="5000",
        )
    )
    assert settings.sms_allowed_countries == frozenset({"UZ", "KZ", "KG"})
    assert settings.sms_budgets == SmsBudgets(per_client=12, per_block=0, total=5000)


def test_a_star_alone_allows_every_country_and_an_empty_list_the_default(
    tmp_path: Path,
) -> None:
    assert (
        Settings.from_env(dev_env(tmp_path, SMS_ALLOWED_COUNTRIES="*")).sms_allowed_countries
        is None
    )
    empty = Settings.from_env(dev_env(tmp_path, SMS_ALLOWED_COUNTRIES=" "))
    assert empty.sms_allowed_countries == frozenset({"UZ"})


@pytest.mark.parametrize("raw", ["UZB", "Uzbekistan", "XX", "*,UZ", "998", "U Z"])
def test_a_country_that_is_not_an_iso_code_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="SMS_ALLOWED_COUNTRIES"):
        Settings.from_env(dev_env(tmp_path, SMS_ALLOWED_COUNTRIES=raw))


@pytest.mark.parametrize(
    "name", ["SMS_MAX_PER_IP_PER_HOUR", "SMS_MAX_PER_PREFIX_PER_HOUR", "SMS_MAX_PER_HOUR"]
)
@pytest.mark.parametrize("raw", ["-1", "ten", "1.5", "1e3"])
def test_an_sms_budget_that_is_not_a_count_is_refused(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(dev_env(tmp_path, **{name: raw}))


def test_an_admin_whose_country_codes_are_not_sent_to_is_refused(tmp_path: Path) -> None:
    """Else the admin could never sign in, and nothing would say why."""
    with pytest.raises(ConfigError, match=r"ADMIN_PHONE_NUMBERS: \+77012345678 is in KZ"):
        Settings.from_env(dev_env(tmp_path, ADMIN_PHONE_NUMBERS="+77012345678"))
    allowed = dev_env(tmp_path, ADMIN_PHONE_NUMBERS="+77012345678", SMS_ALLOWED_COUNTRIES="UZ,KZ")
    assert Settings.from_env(allowed).admin_phone_numbers == frozenset({"+77012345678"})
