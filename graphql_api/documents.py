"""Parsing and validation of GraphQL documents, cached, and off the event loop.

Strawberry parses and validates on the event loop; a large or hostile document would then
stall every other client while it is checked. Here a document already seen is answered
from the caches on the loop (a dictionary lookup), and a new one is parsed and validated in
a worker thread. This replaces Strawberry's ParserCache and ValidationCache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from typing import Generic, TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from starlette.concurrency import run_in_threadpool
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

V = TypeVar("V")

# Documents longer than this are checked every time rather than kept: real queries are a
# few KiB (the full introspection query 1.6 KiB), and a cache of 256 one-MiB bodies would
# otherwise be a way to fill memory.
MAX_CACHED_DOCUMENT = 16 * 1024

# Rules Strawberry adds to every validation (see strawberry.schema.schema.validate_document).
_STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)


class BoundedLru(Generic[V]):
    """A small LRU map; bounded, so unique documents cannot grow memory without limit."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        """Keep ``value``; mind the size of the key (see ``MAX_CACHED_DOCUMENT``)."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)


def validate_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    *,
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """graphql-core's validation with Strawberry's extra rules; ``hide_suggestions`` drops
    every "Did you mean …" (fields, types, arguments, enum values, input fields)."""
    return validate(
        schema, document, (*rules, *_STRAWBERRY_RULES), hide_suggestions=hide_suggestions
    )


class DocumentCache:
    """The parse and validation caches one schema shares across its requests."""

    def __init__(self, *, hide_suggestions: bool, maxsize: int = 256) -> None:
        self.hide_suggestions = hide_suggestions
        self.parsed: BoundedLru[DocumentNode] = BoundedLru(maxsize)
        self.validated: BoundedLru[list[GraphQLError]] = BoundedLru(maxsize)

    def extension(self) -> OffLoopDocuments:
        """A fresh per-request extension (pass ``cache.extension`` as the factory)."""
        return OffLoopDocuments(self)


class OffLoopDocuments(SchemaExtension):
    """Parses and validates each new document in a worker thread; seen ones from cache."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query
        if context.graphql_document is None and query:
            key = (query, _options_key(context.parse_options))
            document = self.cache.parsed.get(key)
            if document is None:
                document = await run_in_threadpool(parse, query, **context.parse_options)
                if len(query) <= MAX_CACHED_DOCUMENT:
                    self.cache.parsed.put(key, document)
            context.graphql_document = document
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document, query = context.graphql_document, context.query or ""
        if context.pre_execution_errors is None and document is not None:
            # Keyed by the query text, not the document: hashing a document walks all of it.
            key = (query, _options_key(context.parse_options), context.validation_rules)
            keep = 0 < len(query) <= MAX_CACHED_DOCUMENT
            errors = self.cache.validated.get(key) if keep else None
            if errors is None:
                errors = await run_in_threadpool(
                    validate_document,
                    context.schema._schema,
                    document,
                    context.validation_rules,
                    hide_suggestions=self.cache.hide_suggestions,
                )
                if keep:
                    self.cache.validated.put(key, errors)
            context.pre_execution_errors = errors
        yield


def _options_key(options: Mapping[str, object]) -> Hashable:
    return tuple(sorted(options.items()))
