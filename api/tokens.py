"""Write tokens: who may change what the live links serve, and under which name.

Every write needs `Authorization: Bearer TOKEN`, compared in constant time with every configured
token; the matching token's name is recorded (a publication says who made it). There is no open
mode: with no token configured, every write is refused.

Tokens come from, merged:

* `SMFCAST_API_TOKEN`: one token, named `default`;
* `SMFCAST_API_TOKENS`: several, as `name=token,name=token`;
* the token file: `SMFCAST_TOKEN_FILE`, or else `<store name>.tokens` beside the run store
  (`var/smfcast.tokens`), one `name token` per line, `#` starting a comment.

The sources are read on every write, so a token added to the file works without a restart.
`smfcast serve` creates the token file (one random token named `admin`, mode 0600) when no token
is configured and prints where it is; it refuses a non-loopback address unless a token was given
explicitly (either variable, or `SMFCAST_TOKEN_FILE`).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from flask import current_app, request

from smfcast.errors import InvalidInput, SmfcastError

log = logging.getLogger("smfcast.api")
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
EXPLICIT = ("SMFCAST_API_TOKEN", "SMFCAST_API_TOKENS", "SMFCAST_TOKEN_FILE")


class Unauthorized(SmfcastError):
    status = 401


class Forbidden(SmfcastError):
    status = 403


class TokensUnreadable(SmfcastError):
    status = 503


def token_file(store_path: str | Path, environ=os.environ) -> Path:
    """Where the token file is: `SMFCAST_TOKEN_FILE`, or `<store name>.tokens` beside the store."""
    if environ.get("SMFCAST_TOKEN_FILE"):
        return Path(environ["SMFCAST_TOKEN_FILE"])
    p = Path(store_path)
    return p.with_name(p.stem + ".tokens")


def _add(tokens: dict, name: str, token: str, where: str) -> None:
    if not NAME.match(name):
        raise InvalidInput(f"{where}: token name {name!r} must be 1-64 letters, digits or _.@-", where)
    if not token or any(c.isspace() for c in token):
        raise InvalidInput(f"{where}: the token named {name!r} is empty or contains spaces", where)
    tokens[name] = token


def configured_tokens(store_path: str | Path, environ=os.environ) -> dict[str, str]:
    """{name: token} from the environment and the token file (see the module docstring)."""
    tokens: dict[str, str] = {}
    path = token_file(store_path, environ)
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if line:
                parts = line.split()
                if len(parts) != 2:
                    raise InvalidInput(f"{path}, line {n}: expected 'name token'", "SMFCAST_TOKEN_FILE")
                _add(tokens, parts[0], parts[1], f"{path}, line {n}")
    elif environ.get("SMFCAST_TOKEN_FILE"):
        raise InvalidInput(f"SMFCAST_TOKEN_FILE names {path}, which does not exist", "SMFCAST_TOKEN_FILE")
    for item in filter(None, (environ.get("SMFCAST_API_TOKENS") or "").split(",")):
        name, sep, token = item.strip().partition("=")
        if not sep:
            raise InvalidInput("SMFCAST_API_TOKENS must look like name=token,name=token", "SMFCAST_API_TOKENS")
        _add(tokens, name, token, "SMFCAST_API_TOKENS")
    if environ.get("SMFCAST_API_TOKEN"):
        _add(tokens, "default", environ["SMFCAST_API_TOKEN"], "SMFCAST_API_TOKEN")
    return tokens


def explicit(environ=os.environ) -> bool:
    """Whether a token was configured on purpose (not just created by `smfcast serve`)."""
    return any(environ.get(name) for name in EXPLICIT)


def create_token_file(path: Path, name: str = "admin") -> str:
    """Write a new token file readable by its owner only (mode 0600); return the token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# smfcast write tokens: one 'name token' per line; send 'Authorization: Bearer TOKEN'\n")
        f.write(f"{name} {token}\n")
    return token


def match(tokens: dict[str, str], header: str) -> str:
    """The name of the token in an `Authorization` header; 401 without one, 403 for a wrong one."""
    if not header:
        hint = "" if tokens else "; this server has no token configured, so writes are locked (see the README, 'Tokens')"
        raise Unauthorized(f"this endpoint needs 'Authorization: Bearer <token>'{hint}", "Authorization")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'", "Authorization")
    given_bytes, found = given.strip().encode(), None
    for name, token in tokens.items():  # every token compared, each in constant time
        if hmac.compare_digest(token.encode(), given_bytes):
            found = name
    if found is None:
        raise Forbidden("the bearer token is not valid for this server", "Authorization")
    return found


def require_token() -> str:
    """Refuse the request unless it carries a valid write token; return the token's name."""
    tokens = current_app.config.get("SMFCAST_API_TOKENS")
    if tokens is None:
        try:
            tokens = configured_tokens(current_app.config["SMFCAST_STORE"])
        except InvalidInput as exc:  # the operator's mistake, not the client's: say so in the log, not in the answer
            log.error("write tokens cannot be read: %s", exc.message)
            raise TokensUnreadable("this server's write tokens cannot be read; its log says why", "Authorization") from None
    return match(tokens, request.headers.get("Authorization", ""))
