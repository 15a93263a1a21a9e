"""The shape of what a GraphQL request over HTTP carries, checked before Strawberry reads it.

Strawberry's reader assumes it: it calls ``.get`` on the decoded body, ``.items`` on a
multipart ``map`` and walks the map's paths into ``operations``, so a body of ``"x"`` or a
map of ``{"0": [1]}`` is an ``AttributeError`` (a 500). Every JSON document a request
carries (the body, ``operations``, ``map``, GET's ``variables`` and ``extensions``) is an
object, or an array for a batch (refused later as such); anything else is a 400 here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strawberry.file_uploads.utils import replace_placeholders_with_files

from graphql_api.refusals import Refusal, bad_request


def not_a_graphql_request() -> Refusal:
    return bad_request("a GraphQL request is a JSON object")


def json_container(value: object) -> dict[str, Any] | list[Any]:
    """``value`` if it is an object or an array, else the refusal."""
    if isinstance(value, dict | list):
        return value
    raise not_a_graphql_request()


def files_map(value: object) -> dict[str, list[str]]:
    """The multipart ``map``: an object from each file part's name to the paths in
    ``operations`` that the file fills (the GraphQL multipart request spec)."""
    if not isinstance(value, dict) or not all(
        isinstance(paths, list) and all(isinstance(path, str) for path in paths)
        for paths in value.values()
    ):
        raise bad_request("the multipart map is an object of lists of paths")
    return value


def with_files(
    operations: object, paths: dict[str, list[str]], files: Mapping[str, Any]
) -> dict[str, Any]:
    """``operations`` with each file put where ``map`` says; a file the form lacks, or a
    path that leads nowhere in ``operations`` (a missing key, a null, a string, an index
    past a list's end, a key that is no index into a list), is a 400."""
    if not isinstance(operations, dict | list):
        raise not_a_graphql_request()
    try:
        # typed dict[str, Any], but walks lists too (a batch), as the spec has it
        return replace_placeholders_with_files(operations, paths, files)  # type: ignore[arg-type]
    except (LookupError, TypeError, ValueError) as error:
        raise bad_request("the multipart map names a file or a path the request lacks") from error
