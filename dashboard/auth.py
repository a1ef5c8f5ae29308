"""Login for a dashboard served beyond loopback: HTTP Basic with a password stored only as a hash.

On 127.0.0.1 the app needs no login. Bound to any other address it refuses every request (pages,
assets, callbacks) without valid credentials with 401. The password comes from the environment
(``SMARTLIB_DASHBOARD_PASSWORD``) or a file (``SMARTLIB_DASHBOARD_PASSWORD_FILE`` or ``--password-file``,
first line); only its hash (werkzeug's scrypt) is kept in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PASSWORD = "SMARTLIB_DASHBOARD_PASSWORD"
ENV_PASSWORD_FILE = "SMARTLIB_DASHBOARD_PASSWORD_FILE"
ENV_USER = "SMARTLIB_DASHBOARD_USER"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class AuthError(ValueError):
    """No usable password for a dashboard that needs one (the message says where to put it)."""


@dataclass(frozen=True)
class Login:
    """A user name and the hash of its password."""

    user: str
    password_hash: str = field(repr=False)

    @classmethod
    def from_password(cls, user: str, password: str) -> Login:
        from werkzeug.security import generate_password_hash

        return cls(user, generate_password_hash(password))

    def check(self, user: str | None, password: str | None) -> bool:
        from werkzeug.security import check_password_hash

        return user == self.user and password is not None and check_password_hash(self.password_hash, password)


def login_for(host: str, *, password_file: Path | None = None, env: Mapping[str, str] | None = None) -> Login | None:
    """The login a dashboard bound to ``host`` needs: None on loopback, else from the environment or a file.

    Raises
    ------
    AuthError
        When ``host`` is not loopback and no password is given, or the file cannot be read.
    """
    env = os.environ if env is None else env
    if host in LOOPBACK and password_file is None and not env.get(ENV_PASSWORD) and not env.get(ENV_PASSWORD_FILE):
        return None
    user = env.get(ENV_USER, "smartlib")
    password = None
    file = password_file or (Path(env[ENV_PASSWORD_FILE]) if env.get(ENV_PASSWORD_FILE) else None)
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise AuthError(f"cannot read the dashboard password file {file}: {exc.strerror}") from exc
        password = lines[0].strip() if lines and lines[0].strip() else None
        if password is None:
            raise AuthError(f"the dashboard password file {file} is empty")
    elif env.get(ENV_PASSWORD):
        password = env[ENV_PASSWORD]
    if password is None:
        raise AuthError(f"serving the dashboard on {host} (not 127.0.0.1) needs a login: set {ENV_PASSWORD} or "
                        f"{ENV_PASSWORD_FILE}, or give --password-file (user name {user}, or set {ENV_USER})")
    return Login.from_password(user, password)


def protect(server: Any, login: Login) -> None:
    """Refuse every request to the Flask ``server`` without the login's credentials (401)."""
    from flask import Response, request

    @server.before_request
    def _require_login() -> Response | None:
        auth = request.authorization
        if auth is not None and login.check(auth.username, auth.password):
            return None
        return Response("login required", 401, {"WWW-Authenticate": 'Basic realm="smartlib dashboard"'})


__all__ = ["ENV_PASSWORD", "ENV_PASSWORD_FILE", "AuthError", "Login", "login_for", "protect"]
