"""``serverInfo``: what a client should know before it uploads (no sign-in needed)."""

from __future__ import annotations

import strawberry

from graphql_api.context import Info


@strawberry.type(description="One of ovoz's languages and whether this server handles it.")
class LanguageSupport:
    code: str
    name: str = strawberry.field(description="The language's name in itself.")
    supported: bool = strawberry.field(
        description="Whether the model configured for it is known to transcribe it well; "
        "an upload in an unsupported language is accepted and flagged, unless "
        "refusesUnsupportedLanguages."
    )


@strawberry.type(description="This server's limits and languages.")
class ServerInfo:
    max_upload_bytes: int
    max_audio_seconds: float
    languages: list[LanguageSupport]
    speaker_labels: bool = strawberry.field(
        description="Whether transcripts made here say who spoke (Segment.speaker): the "
        "voice encoder is installed and SPEAKER_LABELS is not off."
    )
    refuses_unsupported_languages: bool = strawberry.field(
        description="True when an upload asking for an unsupported language is refused "
        "(UnsupportedLanguage) instead of accepted and flagged (Audio.languageUnsupported)."
    )


@strawberry.type
class ServerInfoQuery:
    @strawberry.field(description="Upload limits and the languages this server handles.")
    def server_info(self, info: Info) -> ServerInfo:
        facts = info.context.services.server_info
        return ServerInfo(
            max_upload_bytes=facts.max_upload_bytes,
            max_audio_seconds=facts.max_audio_seconds,
            languages=[
                LanguageSupport(code=f.code, name=f.name, supported=f.supported)
                for f in facts.languages
            ],
            refuses_unsupported_languages=facts.refuses_unsupported_languages,
            speaker_labels=facts.speaker_labels,
        )
