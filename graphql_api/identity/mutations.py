"""sendOtp and verifyOtp: thin resolvers over the Identity use cases."""

from __future__ import annotations

import strawberry

from domain.errors import (
    CountryNotAllowedError,
    InvalidOtpError,
    InvalidPhoneNumberError,
    RateLimitedError,
    SmsDeliveryFailedError,
    UserNotFoundError,
)
from domain.sessions import ClientType
from domain.signin import CodeSent, SignedIn
from graphql_api.context import Info
from graphql_api.errors import (
    country_not_allowed,
    invalid_otp,
    invalid_phone_number,
    rate_limited,
    sms_delivery_failed,
)
from graphql_api.identity.sessions import client_address, device_label, token_for
from graphql_api.identity.types import OtpSent, SendOtpResult, VerifyOtpResult


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(description="Send a one-time code by SMS to a mobile number.")
    async def send_otp(self, info: Info, phone_number: str) -> SendOtpResult:
        services = info.context.services
        locale = info.context.locale
        try:
            sent: CodeSent = await services.signin.run(
                services.identity.send_code, phone_number, client_address(info.context)
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

    @strawberry.mutation(
        description="Exchange a one-time code for a session: an access token and a refresh "
        "token (in an HttpOnly cookie for clientType BROWSER)."
    )
    async def verify_otp(
        self,
        info: Info,
        phone_number: str,
        otp_code: str,
        client_type: ClientType = ClientType.API,
    ) -> VerifyOtpResult:
        services = info.context.services
        locale = info.context.locale
        pacing = services.signin
        started = pacing.started()
        try:
            signed_in: SignedIn = await pacing.run(
                services.identity.verify_code,
                phone_number,
                otp_code.strip(),
                client_address(info.context),
            )
        except InvalidOtpError:
            await pacing.fail_on_time(started)
            return invalid_otp(locale)
        except RateLimitedError as e:
            await pacing.fail_on_time(started)
            return rate_limited(locale, e.retry_after_seconds)
        try:
            session = await pacing.run(
                services.sessions.start,
                signed_in.user_id,
                client_type,
                device_label(info.context.request.headers.get("user-agent")),
                client_address(info.context),
            )
        except UserNotFoundError:  # the account was deleted as the code was checked
            return invalid_otp(locale)
        # Read-your-writes (in token_for): the token is only useful once `me` can find
        # the user.
        await pacing.run(services.wait_for, services.identity.name, signed_in.position)
        return await token_for(info.context, session, signed_in.phone, signed_in.role)
