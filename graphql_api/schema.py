"""The schema, with the hardening every deployment gets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig

from graphql_api.context import Context
from graphql_api.identity.account import AccountMutation
from graphql_api.identity.mutations import IdentityMutation
from graphql_api.identity.queries import IdentityQuery
from graphql_api.messages import message
from graphql_api.recordings.audit import AuditQuery
from graphql_api.recordings.mutations import RecordingsMutation
from graphql_api.recordings.queries import RecordingsQuery
from graphql_api.recordings.subscriptions import RecordingsSubscription

log = logging.getLogger("ovoz.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000


@strawberry.type
class Query(IdentityQuery, RecordingsQuery, AuditQuery):
    pass


@strawberry.type
class Subscription(RecordingsSubscription):
    pass


@strawberry.type
class Mutation(IdentityMutation, RecordingsMutation, AccountMutation):
    pass


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> int:
    deepest = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            nested = selection.selection_set
            depth = 1 + _depth(nested, fragments, seen) if nested else 0
        elif isinstance(selection, InlineFragmentNode):
            depth = _depth(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            name = selection.name.value
            depth = _depth(fragment.selection_set, fragments, seen | {name}) if fragment else 0
        else:
            depth = 0
        deepest = max(deepest, depth)
    return deepest


class MaxDepthIncludingIntrospection(ValidationRule):
    """Strawberry's QueryDepthLimiter skips ``__``-fields, so nested introspection
    (``__schema{types{fields{type{ofType…}}}}``) escapes it; this counts every field."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        fragments = {
            d.name.value: d
            for d in self.context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        if _depth(node.selection_set, fragments) > MAX_DEPTH:
            self.report_error(
                GraphQLError(f"Query exceeds the maximum depth of {MAX_DEPTH}.", node)
            )


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


class OvozSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Expected errors (UNAUTHENTICATED, validation) are answers, not incidents;
        # MaskUnexpectedErrors logs the unexpected ones with their request id.
        return


def build_schema(*, production: bool) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: AddValidationRules([MaxDepthIncludingIntrospection]),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        MaskUnexpectedErrors,
    ]
    if production:
        extensions.append(DisableIntrospection)
    return OvozSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )
