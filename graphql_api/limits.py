"""What one GraphQL document may ask for, measured before it runs.

One validation rule measures every operation: its depth, the depth of its introspection,
its cost (the fields it resolves, each list multiplied by its size) and its aliases. Each
fragment is measured once and its measure reused wherever it is spread, so the work is
linear in the document even where the query it expands to is exponential: a fragment that
spreads the previous one twice, 30 levels deep, is 60 spreads but 2^30 fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    Node,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_introspection_type,
    is_list_type,
)
from graphql.language.visitor import SKIP, VisitorAction
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
TOO_DEEP = "QUERY_TOO_DEEP"

_META_FIELDS = {
    "__schema": SchemaMetaFieldDef,
    "__type": TypeMetaFieldDef,
    "__typename": TypeNameMetaFieldDef,
}
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
_PAGE_ARGUMENTS = ("limit", "first")


@dataclass(frozen=True)
class QueryLimits:
    """The bounds a document must keep. ``list_sizes`` gives, per ``Type.field``, the most
    items a list field returns, or the most a paged field's ``limit`` is clamped to."""

    max_depth: int = 10
    # The standard introspection query (graphql-js, graphql-core, GraphiQL, codegen) is 14
    # deep: its TypeRef fragment nests ofType nine times. Two levels of slack for clients
    # that nest it once or twice more.
    max_introspection_depth: int = 16
    max_cost: int = 500_000
    max_aliases: int = 15
    max_fragment_spreads: int = 100
    max_fragments: int = 100
    default_list_size: int = 100
    list_sizes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OperationMeasure:
    depth: int
    introspection_depth: int
    cost: int
    aliases: int


@dataclass(frozen=True)
class DocumentMeasure:
    operations: list[tuple[OperationDefinitionNode, OperationMeasure]]
    fragments: int
    fragment_spreads: int
    # Selections walked: equal to the selections written in the document (each fragment is
    # walked once however often it is spread), which is what keeps measuring linear.
    selections_visited: int


@dataclass(frozen=True)
class _Shape:
    """A selection set, measured once. Lists directly in it with no ``limit`` of their own
    take the page size of the field around them (``audios(limit: 5) { items {...} }``),
    so its cost is ``fixed + page * per_item``, or ``fixed + at_bounds`` without a page."""

    depth: int = 0
    introspection_depth: int = 0
    fixed: int = 0
    per_item: int = 0
    at_bounds: int = 0
    aliases: int = 0

    def cost(self, page: int | None) -> int:
        return self.fixed + (self.at_bounds if page is None else page * self.per_item)

    def __add__(self, other: _Shape) -> _Shape:
        return _Shape(
            depth=max(self.depth, other.depth),
            introspection_depth=max(self.introspection_depth, other.introspection_depth),
            fixed=self.fixed + other.fixed,
            per_item=self.per_item + other.per_item,
            at_bounds=self.at_bounds + other.at_bounds,
            aliases=self.aliases + other.aliases,
        )


_EMPTY = _Shape()


class _Measuring:
    """Measures selection sets against the schema, memoising each fragment by name."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        limits: QueryLimits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.limits = limits
        self.visited = 0
        self.spreads = 0
        self._measured: dict[str, _Shape] = {}
        self._open: set[str] = set()

    def selection_set(self, node: SelectionSetNode, parent: GraphQLNamedType | None) -> _Shape:
        shape = _EMPTY
        for selection in node.selections:
            self.visited += 1
            shape += self._selection(selection, parent)
        return shape

    def fragment(self, name: str) -> _Shape:
        known = self._measured.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self._open:
            return _EMPTY  # unknown or cyclic: KnownFragmentNames / NoFragmentCycles report it
        self._open.add(name)
        shape = self.selection_set(definition.selection_set, self._type(definition.type_condition))
        self._open.discard(name)
        self._measured[name] = shape
        return shape

    def _selection(self, selection: SelectionNode, parent: GraphQLNamedType | None) -> _Shape:
        if isinstance(selection, FieldNode):
            return self._field(selection, parent)
        if isinstance(selection, InlineFragmentNode):
            condition = self._type(selection.type_condition) if selection.type_condition else None
            return self.selection_set(selection.selection_set, condition or parent)
        if isinstance(selection, FragmentSpreadNode):
            self.spreads += 1
            return self.fragment(selection.name.value)
        return _EMPTY

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> _Shape:
        aliases = 1 if node.alias else 0
        if node.selection_set is None:
            return _Shape(fixed=1, aliases=aliases)
        definition = _field_of(parent, node.name.value)
        inner_type = get_named_type(definition.type) if definition else None
        inner = self.selection_set(node.selection_set, inner_type)
        aliases += inner.aliases
        if node.name.value in _INTROSPECTION_ROOTS:
            # Lists inside introspection are not multiplied: the answer is bounded by the
            # schema itself (and introspection is off in production); its depth is bounded.
            depth = 1 + max(inner.depth, inner.introspection_depth)
            return _Shape(introspection_depth=depth, fixed=1 + inner.cost(None), aliases=aliases)
        return replace(
            self._cost(node, parent, definition, inner),
            depth=1 + inner.depth,
            introspection_depth=inner.introspection_depth + 1 if inner.introspection_depth else 0,
            aliases=aliases,
        )

    def _cost(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        definition: GraphQLField | None,
        inner: _Shape,
    ) -> _Shape:
        """A list multiplies its items' cost by its own page size, else by the page size of
        the field around it (``per_item``), else by its bound."""
        key = f"{parent.name}.{node.name.value}" if parent else node.name.value
        page = self._page(node, definition, key)
        if not _multiplies(parent, definition):
            return _Shape(fixed=1 + inner.cost(page))
        if page is not None:
            return _Shape(fixed=1 + page * inner.cost(None))
        size = self.limits.list_sizes.get(key, self.limits.default_list_size)
        return _Shape(fixed=1, per_item=inner.cost(None), at_bounds=size * inner.cost(None))

    def _page(self, node: FieldNode, definition: GraphQLField | None, key: str) -> int | None:
        """The page size a ``limit``/``first`` argument asks for: a literal (clamped to the
        field's bound), the bound for a variable, the argument's default when absent."""
        if definition is None:
            return None
        names = [name for name in _PAGE_ARGUMENTS if name in definition.args]
        if not names:
            return None
        bound = self.limits.list_sizes.get(key)
        given = {a.name.value: a.value for a in node.arguments or ()}
        value = given.get(names[0])
        if isinstance(value, IntValueNode):
            requested = max(0, int(value.value))
        elif value is None and isinstance(definition.args[names[0]].default_value, int):
            requested = max(0, definition.args[names[0]].default_value)
        else:  # a variable: validation cannot see its value, so assume the most allowed
            requested = bound if bound is not None else self.limits.default_list_size
        return requested if bound is None else min(requested, bound)

    def _type(self, node: NamedTypeNode) -> GraphQLNamedType | None:
        return self.schema.get_type(node.name.value)


def _multiplies(parent: GraphQLNamedType | None, definition: GraphQLField | None) -> bool:
    if definition is None or parent is None or is_introspection_type(parent):
        return False
    return is_list_type(get_nullable_type(definition.type))


def _field_of(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    meta = _META_FIELDS.get(name)
    if meta is not None:
        return meta
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return None
    definition: GraphQLField | None = parent.fields.get(name)
    return definition


def measure_document(
    schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits
) -> DocumentMeasure:
    """Measure every operation of ``document`` (and every fragment, once)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measuring = _Measuring(schema, fragments, limits)
    for name in fragments:
        measuring.fragment(name)
    operations = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            shape = measuring.selection_set(definition.selection_set, root)
            measure = OperationMeasure(
                shape.depth, shape.introspection_depth, shape.cost(None), shape.aliases
            )
            operations.append((definition, measure))
    return DocumentMeasure(operations, len(fragments), measuring.spreads, measuring.visited)


_MESSAGES = {
    "fragments": "The document defines {value} fragments; at most {most} are allowed.",
    "fragmentSpreads": "The document spreads fragments {value} times; at most {most} are allowed.",
    "depth": "Query exceeds the maximum depth of {most} (it is {value} deep).",
    "introspectionDepth": "Introspection exceeds the maximum depth of {most} (it is {value} deep).",
    "cost": "Query is too complex: it could resolve {value} fields; at most {most} are allowed. "
    "Ask for fewer fields or smaller pages.",
    "aliases": "{value} aliases found. Allowed: {most}.",
}


def _refusal(code: str, measure: str, value: int, most: int, node: Node | None) -> GraphQLError:
    message = _MESSAGES[measure].format(value=value, most=most)
    extensions = {"code": code, "measure": measure, "value": value, "max": most}
    return GraphQLError(message, node, extensions=extensions)


def limit_errors(
    schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits
) -> list[GraphQLError]:
    """Why ``document`` is refused, if it is."""
    fragments = sum(isinstance(d, FragmentDefinitionNode) for d in document.definitions)
    if fragments > limits.max_fragments:
        return [_refusal(TOO_COMPLEX, "fragments", fragments, limits.max_fragments, None)]
    measured = measure_document(schema, document, limits)
    spreads = measured.fragment_spreads
    if spreads > limits.max_fragment_spreads:
        return [
            _refusal(TOO_COMPLEX, "fragmentSpreads", spreads, limits.max_fragment_spreads, None)
        ]
    return [
        error
        for operation, measure in measured.operations
        for error in _operation_errors(operation, measure, limits)
    ]


def _operation_errors(
    node: OperationDefinitionNode, measure: OperationMeasure, limits: QueryLimits
) -> list[GraphQLError]:
    checks = (
        (TOO_DEEP, "depth", measure.depth, limits.max_depth),
        (
            TOO_DEEP,
            "introspectionDepth",
            measure.introspection_depth,
            limits.max_introspection_depth,
        ),
        (TOO_COMPLEX, "cost", measure.cost, limits.max_cost),
        (TOO_COMPLEX, "aliases", measure.aliases, limits.max_aliases),
    )
    return [
        _refusal(code, name, value, most, node)
        for code, name, value, most in checks
        if value > most
    ]


def query_limits_rule(limits: QueryLimits) -> type[ValidationRule]:
    """A validation rule enforcing ``limits``; build it once per schema (the validation
    cache keys on the rule classes)."""

    class QueryLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> VisitorAction:
            for error in limit_errors(self.context.schema, node, limits):
                self.report_error(error)
            return SKIP

    return QueryLimitsRule
