"""Admin authentication: one bearer token (RADIO_ADMIN_TOKEN) guards the operator's routes.

Use it as a route dependency: ``@router.post(..., dependencies=[AdminDep])`` or a parameter
``_: Annotated[None, Depends(require_admin)]``. With no token configured the admin routes are
closed (401) and the message says how to open them. Comparison is constant-time.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.config import ServerSettings

__all__ = ["AdminDep", "require_admin"]

_bearer = HTTPBearer(auto_error=False, description="RADIO_ADMIN_TOKEN")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=message,
                         headers={"WWW-Authenticate": "Bearer"})


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with ``Authorization: Bearer <RADIO_ADMIN_TOKEN>``."""
    config: ServerSettings = request.app.state.config
    expected = config.admin_token
    if expected is None:
        raise _unauthorized("admin routes are disabled: start the server with "
                            "RADIO_ADMIN_TOKEN set")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("this route needs the admin token: Authorization: Bearer <token>")
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise _unauthorized("wrong admin token")


AdminDep = Depends(require_admin)
