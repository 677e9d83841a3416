"""What REDIS_URL points at: one Redis server, or a primary found through Sentinel.

Two forms are accepted (docs/configuration.md, "Redis"):

- `redis://`, `rediss://` (TLS) and `unix://`: one server, parsed by redis-py;
- `redis+sentinel://[user:password@]host:port[,host:port…]/db/master_name` and
  `rediss+sentinel://…` (TLS to sentinels and data nodes): the sentinels to ask
  for the current primary of `master_name`. This is the scheme python-socketio
  and other Sentinel clients use. The URL's credentials are the data nodes'; a
  sentinel's own password comes from REDIS_SENTINEL_PASSWORD.

`RedisTarget.parse` refuses a malformed URL with a sentence that says what is
wrong, which config validation shows under the variable's name. Nothing here
opens a connection (`ailawyer.redis` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

from ailawyer.logs import redact_text

PLAIN_SCHEMES: Final = ("redis", "rediss", "unix")
SENTINEL_SCHEMES: Final = {"redis+sentinel": False, "rediss+sentinel": True}
DEFAULT_SENTINEL_PORT: Final = 26379
SENTINEL_FORM: Final = "redis+sentinel://[user:password@]host:port[,host:port…]/db/master_name"
# A master name as Sentinel accepts it in `sentinel monitor`: no spaces, no slash.
_MASTER_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_BRACKETED = re.compile(r"^\[(?P<host>[0-9A-Fa-f:.]+)\](?::(?P<port>[^:]*))?$")


@dataclass(frozen=True)
class RedisTarget:
    """A parsed REDIS_URL, plus the sentinels' password (REDIS_SENTINEL_PASSWORD).

    For a plain URL only `url` matters (redis-py reads it); for a Sentinel URL the
    other fields say whom to ask and how to log in once the primary is known.
    """

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    service_name: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    sentinel_password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str, *, sentinel_password: str | None = None) -> RedisTarget:
        """Raises ValueError with a sentence that says what is wrong."""
        scheme, sep, _ = url.partition("://")
        scheme = scheme.lower()
        if not sep or (scheme not in PLAIN_SCHEMES and scheme not in SENTINEL_SCHEMES):
            raise ValueError(
                "must start with redis://, rediss://, unix://, redis+sentinel:// "
                "or rediss+sentinel://"
            )
        if scheme in PLAIN_SCHEMES:
            return cls(url=url, sentinel_password=sentinel_password or None)
        return _parse_sentinel_url(url, scheme, sentinel_password or None)

    @property
    def is_sentinel(self) -> bool:
        return bool(self.sentinels)

    @property
    def display(self) -> str:
        """The URL for logs and messages: credentials replaced."""
        return redact_text(self.url)

    @property
    def sentinel_list(self) -> str:
        """`host:port, host:port` of the sentinels, for messages."""
        return ", ".join(_address(host, port) for host, port in self.sentinels)


def as_target(url: str | RedisTarget) -> RedisTarget:
    """A target from a URL string (no sentinel password) or a target as it is."""
    return url if isinstance(url, RedisTarget) else RedisTarget.parse(url)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_sentinel_url(url: str, scheme: str, sentinel_password: str | None) -> RedisTarget:
    wrong = f"a Sentinel URL reads {SENTINEL_FORM}"
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError(wrong) from None
    if parts.query or parts.fragment:
        raise ValueError(f"{wrong}; it takes no ?options or #fragment")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not hosts:
        raise ValueError(f"{wrong}; it names no sentinel")
    sentinels = tuple(_sentinel(item, wrong) for item in hosts.split(","))
    segments = parts.path.split("/")[1:] if parts.path else []
    if len(segments) != 2 or not segments[0].isdigit() or not segments[1]:
        raise ValueError(f"{wrong}; the path must be /db/master_name, e.g. /0/ailawyer")
    master = unquote(segments[1])
    if not _MASTER_NAME.match(master):
        raise ValueError(f"{wrong}; {master!r} is not a master name Sentinel accepts")
    username: str | None = None
    password: str | None = None
    if at:
        name, colon, secret = userinfo.partition(":")
        username = unquote(name) or None
        password = unquote(secret) if colon and secret else None
    return RedisTarget(
        url=url,
        sentinels=sentinels,
        service_name=master,
        db=int(segments[0]),
        username=username,
        password=password,
        tls=SENTINEL_SCHEMES[scheme],
        sentinel_password=sentinel_password,
    )


def _sentinel(item: str, wrong: str) -> tuple[str, int]:
    item = item.strip()
    port_text: str | None
    bracketed = _BRACKETED.match(item)
    if bracketed:
        host, port_text = bracketed["host"], bracketed["port"]
    elif item.count(":") > 1:
        raise ValueError(f"{wrong}; write an IPv6 sentinel as [address]:port")
    else:
        host, colon, port_text = item.partition(":")
        if not colon:
            port_text = None
    if not host:
        raise ValueError(f"{wrong}; {item!r} is not host:port")
    if port_text is None:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{wrong}; {port_text!r} in {item!r} is not a port")
    return host, int(port_text)
