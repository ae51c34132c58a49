"""Checks of one value each (a host, a directory, a bind address) and how an error may show it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from devmatrix.config._constants import HOST_NAME, HOST_WITH_PORT, SECRET_VALUE_PREFIXES, SECRET_WORDS


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(field: str, value: str) -> str:
    """``value`` when it is a bare host name or IP address; else a ValueError saying how to split it."""
    name = field.upper()
    host = value.strip()
    if not host:
        raise ValueError("is empty; set a host name or IP address, e.g. 127.0.0.1")
    if "://" in host:
        scheme, _, rest = host.partition("://")
        bare = rest.split("/")[0]
        match = HOST_WITH_PORT.match(bare)
        bare = match["host"] if match else bare
        raise ValueError(f"carries a scheme ({scheme}://); set the host alone: {name}={bare}")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    match = HOST_WITH_PORT.match(host)
    if match:
        port_name = name.removesuffix("_HOST") + "_PORT"
        raise ValueError(f"carries a port; set {name}={match['host']} and {port_name}={match['port']}")
    if not HOST_NAME.match(host):
        raise ValueError("is not a host name or IP address (letters, digits, - and . only), e.g. 127.0.0.1")
    return host


def check_directory(path: Path, *, parents_only: bool = False) -> None:
    """A directory setting: fine when missing (it is created) or a directory; a file on its path is not."""
    for part in (*(() if parents_only else (path,)), *path.parents):
        try:
            exists, is_dir = part.exists(), part.is_dir()
        except OSError as error:  # e.g. a name too long for the file system
            raise ValueError(f"cannot be a path here: {error.strerror}") from None
        if exists:
            if not is_dir:
                where = "is a file" if part == path else f"lies under {part}, which is a file"
                raise ValueError(f"{where}, not a directory; point it at a directory"
                                 " (created if missing), or move that file away")
            return


def looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def shown_value(name: str, value: object) -> str:
    """``value`` as an error may print it: hidden when ``name`` looks like a secret."""
    if looks_secret(name) or str(value).startswith(SECRET_VALUE_PREFIXES):
        return f"<hidden, {len(str(value))} characters>"
    return str(value)
