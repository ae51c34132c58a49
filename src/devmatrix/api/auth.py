"""Bearer-token auth for the routes that spend money or change state.

The token is Settings.api_token (API_TOKEN). The comparison is constant-time
(secrets.compare_digest) and no error message ever repeats what was sent.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from devmatrix.api.error_handlers import APIError
from devmatrix.config import Settings

_bearer = HTTPBearer(auto_error=False, description="Settings.api_token (API_TOKEN in .env.test)")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def token_matches(settings: Settings, given: str) -> bool:
    expected = settings.api_token.get_secret_value()
    return bool(expected) and secrets.compare_digest(given.encode(), expected.encode())


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    settings: Settings = request.app.state.settings
    if not settings.api_token.get_secret_value():
        raise APIError(401, "this API has no token configured, so it refuses authenticated routes",
                       fix="set API_TOKEN in .env.test and restart the api service", headers=_CHALLENGE)
    if credentials is None:
        raise APIError(401, "missing bearer token",
                       fix="send the header `Authorization: Bearer <API_TOKEN>`", headers=_CHALLENGE)
    if not token_matches(settings, credentials.credentials):
        raise APIError(401, "wrong bearer token",
                       fix="use the value of API_TOKEN from the API's .env.test", headers=_CHALLENGE)
