"""setVocabulary: the names and terms that steer the caller's transcriptions."""

from __future__ import annotations

from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from domain.vocabulary import MAX_TERM_CHARS, MAX_TERMS, InvalidVocabularyError
from graphql_api.context import Info
from graphql_api.errors import Error
from graphql_api.identity.types import User
from graphql_api.messages import message
from graphql_api.permissions import NotAuthenticatedError, require_principal


@strawberry.type(description="The terms were not saved; the vocabulary is as it was.")
class InvalidVocabulary(Error):
    term: str | None = strawberry.field(description="The term that broke a rule, if one did.")
    max_terms: int
    max_term_chars: int


SetVocabularyResult = Annotated[User | InvalidVocabulary, strawberry.union("SetVocabularyResult")]


@strawberry.type
class VocabularyMutation:
    @strawberry.mutation(
        description="Replace your vocabulary: names and terms (people, places, products) "
        "that every transcription of your recordings is steered towards. At most "
        f"{MAX_TERMS} terms of {MAX_TERM_CHARS} characters; duplicates are kept once; an "
        "empty list clears it. It applies to transcriptions that start from now on."
    )
    async def set_vocabulary(self, info: Info, terms: list[str]) -> SetVocabularyResult:
        principal = require_principal(info.context)
        services = info.context.services
        try:
            _, position = await run_in_threadpool(
                services.identity.set_vocabulary, principal.user_id, terms
            )
        except InvalidVocabularyError as e:
            return InvalidVocabulary(
                code=e.code,
                message=message(
                    e.code, info.context.locale, max_terms=MAX_TERMS, max_chars=MAX_TERM_CHARS
                ),
                term=e.term,
                max_terms=MAX_TERMS,
                max_term_chars=MAX_TERM_CHARS,
            )
        if position:
            await run_in_threadpool(services.wait_for, services.identity.name, position)
        row = await run_in_threadpool(services.users.get, principal.user_id)
        if row is None:
            raise NotAuthenticatedError(info.context.locale)
        return User.from_row(row, role=principal.role)
