"""The schema, with the hardening every deployment gets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from graphql_api.context import Context
from graphql_api.documents import DocumentCache
from graphql_api.identity.account import AccountMutation
from graphql_api.identity.api_keys import ApiKeyMutation, ApiKeyQuery
from graphql_api.identity.mutations import IdentityMutation
from graphql_api.identity.queries import IdentityQuery
from graphql_api.identity.sessions import SessionMutation, SessionQuery
from graphql_api.identity.vocabulary import VocabularyMutation
from graphql_api.limits import QueryLimits, query_limits_rule
from graphql_api.messages import message
from graphql_api.recordings.audit import AuditQuery
from graphql_api.recordings.mutations import RecordingsMutation
from graphql_api.recordings.queries import RecordingsQuery
from graphql_api.recordings.subscriptions import RecordingsSubscription
from graphql_api.server_info import ServerInfoQuery
from graphql_api.webhooks.operations import MAX_DELIVERIES, WebhookMutation, WebhookQuery
from projections.audios import MAX_PAGE

log = logging.getLogger("ovoz.graphql")

MAX_TOKENS = 2000
LIMITS = QueryLimits(
    list_sizes={
        "Query.audios": MAX_PAGE,  # the resolver clamps `limit` to this
        "Audio.segments": 1000,  # about two hours of speech at ~7 s a segment
        "Segment.words": 50,
        "Query.webhookDeliveries": MAX_DELIVERIES,  # the resolver clamps `limit` to this
        "Query.webhooks": 10,  # WEBHOOK_MAX_PER_USER by default
    },
)


@strawberry.type
class Query(
    IdentityQuery,
    SessionQuery,
    RecordingsQuery,
    AuditQuery,
    ApiKeyQuery,
    WebhookQuery,
    ServerInfoQuery,
):
    pass


@strawberry.type
class Subscription(RecordingsSubscription):
    pass


@strawberry.type
class Mutation(
    IdentityMutation,
    SessionMutation,
    RecordingsMutation,
    AccountMutation,
    VocabularyMutation,
    ApiKeyMutation,
    WebhookMutation,
):
    pass


def _is_unexpected(error: GraphQLError) -> bool:
    """Our own GraphQLErrors and validation errors pass; anything else is a bug."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors, logging each with the request id the client sees."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context: Context | Any = self.execution_context.context
        request_id = getattr(context, "request_id", "-")
        locale = getattr(context, "locale", "uz")
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in error.path or ()),
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message("INTERNAL", locale, request_id=request_id),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


_INTROSPECTION_DISABLED = "GraphQL introspection has been disabled"  # DisableIntrospection's


def _names_the_schema(error: GraphQLError) -> bool:
    """graphql-core's own validation and coercion errors: no code of ours, no resolver
    behind them, and a message that names types, fields and arguments."""
    code = (error.extensions or {}).get("code")
    return code is None and error.original_error is None


class HideSchemaInErrors(MaskErrors):
    """Production: a document that does not fit the schema is told so, and where, but
    not what the schema has instead ("Argument 'verifyOtp(otpCode:)' of type 'String!'
    is required", "Field 'me' of type 'User!' must have a selection" name what a client
    probing the schema has not guessed yet)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_names_the_schema)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if error.message.startswith(_INTROSPECTION_DISABLED):  # names only what was sent
            return GraphQLError(
                error.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                extensions={"code": "INTROSPECTION_DISABLED"},
            )
        locale = getattr(self.execution_context.context, "locale", "uz")
        return GraphQLError(
            message("INVALID_DOCUMENT", locale),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )


class _ExecutionWithoutSuggestions(StrawberryGraphQLCoreExecutionContext):
    """Coerces variables (and directive arguments) without "Did you mean …" in errors."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


class OvozSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Expected errors (UNAUTHENTICATED, validation) are answers, not incidents;
        # MaskUnexpectedErrors logs the unexpected ones with their request id.
        return

    async def execute(  # noqa: PLR0917 (Strawberry's signature)
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # A subscription runs through stream() (the WebSocket); execute() would run its root
        # field once as if it were a query and fail inside it (a masked INTERNAL error).
        # Refused here it is an InvalidOperationTypeError, which the view answers with 400.
        allowed = {OperationType.QUERY, OperationType.MUTATION}
        if allowed_operation_types is not None:
            allowed &= set(allowed_operation_types)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )


def build_schema(*, production: bool) -> strawberry.Schema:
    """The schema; in production without introspection and without any suggestion that
    would let a client map it by guessing (clairvoyance)."""
    documents = DocumentCache(hide_suggestions=production)
    limits_rule = query_limits_rule(LIMITS)  # one class per schema: the cache keys on it
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules([limits_rule]),
        documents.extension,
        MaskUnexpectedErrors,
    ]
    if production:
        extensions += [DisableIntrospection, HideSchemaInErrors]
    return OvozSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=_ExecutionWithoutSuggestions if production else None,
    )
