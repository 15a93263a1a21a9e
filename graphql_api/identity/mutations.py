"""sendOtp and verifyOtp: thin resolvers over the Identity use cases."""

from __future__ import annotations

import strawberry

from domain.errors import (
    CountryNotAllowedError,
    InvalidOtpError,
    InvalidPhoneNumberError,
    RateLimitedError,
    SmsDeliveryFailedError,
)
from domain.signin import CodeSent, SignedIn
from graphql_api.context import Context, Info
from graphql_api.errors import (
    country_not_allowed,
    invalid_otp,
    invalid_phone_number,
    rate_limited,
    sms_delivery_failed,
)
from graphql_api.identity.types import OtpSent, Role, SendOtpResult, Token, VerifyOtpResult


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(description="Send a one-time code by SMS to a mobile number.")
    async def send_otp(self, info: Info, phone_number: str) -> SendOtpResult:
        services = info.context.services
        locale = info.context.locale
        try:
            sent: CodeSent = await services.signin.run(
                services.identity.send_code, phone_number, _client_address(info.context)
            )
        except CountryNotAllowedError as e:
            return country_not_allowed(locale, e.allowed)
        except InvalidPhoneNumberError:
            return invalid_phone_number(locale)
        except RateLimitedError as e:
            return rate_limited(locale, e.retry_after_seconds)
        except SmsDeliveryFailedError:
            return sms_delivery_failed(locale)
        return OtpSent(
            phone_number=sent.phone,
            expires_in=sent.expires_in,
            resend_after=sent.resend_after,
        )

    @strawberry.mutation(description="Exchange a one-time code for an access token.")
    async def verify_otp(self, info: Info, phone_number: str, otp_code: str) -> VerifyOtpResult:
        services = info.context.services
        locale = info.context.locale
        pacing = services.signin
        started = pacing.started()
        try:
            signed_in: SignedIn = await pacing.run(
                services.identity.verify_code,
                phone_number,
                otp_code.strip(),
                _client_address(info.context),
            )
        except InvalidOtpError:
            await pacing.fail_on_time(started)
            return invalid_otp(locale)
        except RateLimitedError as e:
            await pacing.fail_on_time(started)
            return rate_limited(locale, e.retry_after_seconds)
        # Read-your-writes: the token is only useful once `me` can find the user.
        await pacing.run(services.wait_for, services.identity.name, signed_in.position)
        issued = services.tokens.issue(signed_in.user_id, signed_in.role)
        return Token(
            access_token=issued.token,
            token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
            expires_in=issued.expires_in,
            user_id=strawberry.ID(str(signed_in.user_id)),
            phone_number=signed_in.phone,
            role=Role(signed_in.role.value),
        )


def _client_address(context: Context) -> str | None:
    """The caller's address as the server sees it: behind a trusted reverse proxy
    (FORWARDED_ALLOW_IPS), the one the proxy forwarded for."""
    client = context.request.client
    return client.host if client is not None else None
