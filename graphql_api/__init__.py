"""The GraphQL API: Strawberry schema, types, context and the ASGI app."""
