"""CurveZMQ keys, the allow-list, the ZAP decision, and the loopback-only rule.

With keys configured, the three core sockets are CURVE servers. A connection is admitted
by the ZAP handler (RFC 27) only if its client key is on the allow-list: on the vehicle
socket a vehicle key, whose serial number becomes the connection's ``User-Id`` (the core
then accepts only messages whose routing id equals it); on the control and telemetry
sockets a control-room key with a role (``operator`` may command, ``viewer`` may only
watch). Without keys the core binds loopback only, unless told ``insecure``.

Key files are ZeroMQ certificates in the ZPL format written by czmq and pyzmq
(``NAME.key`` public, ``NAME.key_secret`` secret); the allow-list is JSON::

    {"vehicles": {"igv-001": "<z85 public key>"},
     "control": {"desk-1": {"key": "<z85 public key>", "role": "operator"}}}
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Sequence

import zmq
from zmq.utils import z85

from fleet.errors import SecurityError

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
VEHICLE_DOMAIN = "igv.vehicles"
CONTROL_DOMAIN = "igv.control"
TELEMETRY_DOMAIN = "igv.telemetry"
SERVER_KEY_NAME = "core"
ALLOW_LIST_NAME = "allow.json"

_Z85_KEY = re.compile(rb"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class Role(str, Enum):
    """What a control-room key may do."""

    VIEWER = "viewer"
    OPERATOR = "operator"

    def allows(self, required: Role) -> bool:
        """True if this role may do what ``required`` may."""
        return self is Role.OPERATOR or required is Role.VIEWER


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair, both keys Z85-encoded (40 bytes)."""

    public: bytes
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class ControlPrincipal:
    name: str
    role: Role


@dataclass(frozen=True)
class AllowList:
    """Public keys (Z85) allowed to connect: vehicles by serial, control clients by name."""

    vehicles: Mapping[bytes, str]
    control: Mapping[bytes, ControlPrincipal]

    def role_of(self, name: str) -> Role | None:
        """Role of the control client ``name`` (its ZAP ``User-Id``), or None."""
        for principal in self.control.values():
            if principal.name == name:
                return principal.role
        return None


@dataclass(frozen=True)
class ServerSecurity:
    """What the core needs: its key pair and the allow-list."""

    keys: KeyPair
    allow: AllowList


@dataclass(frozen=True)
class ClientSecurity:
    """What a vehicle or control client needs: its key pair and the core's public key."""

    keys: KeyPair
    server_public: bytes


# --------------------------------------------------------------------------- files


def _check_key(key: bytes, where: str) -> bytes:
    if not _Z85_KEY.fullmatch(key):
        raise SecurityError(f"{where}: not a Z85-encoded CURVE key (40 characters)")
    return key


def load_key_pair(path: str | Path) -> KeyPair:
    """Load a secret certificate (``NAME.key_secret``)."""
    public, secret = _read_certificate(Path(path))
    if secret is None:
        raise SecurityError(f"{path}: has no secret-key (use the .key_secret file)")
    return KeyPair(public=public, secret=secret)


def load_public_key(path: str | Path) -> bytes:
    """Load the public key of a certificate (``NAME.key``)."""
    return _read_certificate(Path(path))[0]


def _read_certificate(path: Path) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise SecurityError(f"{path}: key file not found")
    public = secret = None
    for line in path.read_bytes().splitlines():
        line = line.strip()
        if line.startswith(b"public-key"):
            public = _check_key(line.split(b"=", 1)[1].strip(b" \t'\""), f"{path}: public-key")
        elif line.startswith(b"secret-key"):
            secret = _check_key(line.split(b"=", 1)[1].strip(b" \t'\""), f"{path}: secret-key")
    if public is None:
        raise SecurityError(f"{path}: no public-key line")
    return public, secret


def load_allow_list(path: str | Path) -> AllowList:
    """Read and check an allow-list file (format in the module docstring)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SecurityError(f"{path}: allow-list not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SecurityError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or set(data) - {"vehicles", "control"}:
        raise SecurityError(f"{path}: expected an object with 'vehicles' and 'control'")
    seen: dict[bytes, str] = {}

    def take(key: Any, where: str) -> bytes:
        if not isinstance(key, str):
            raise SecurityError(f"{path}: {where}: key must be a string")
        raw = _check_key(key.encode("ascii", "replace"), f"{path}: {where}")
        if raw in seen:
            raise SecurityError(f"{path}: {where}: same key as {seen[raw]}")
        seen[raw] = where
        return raw

    vehicles: dict[bytes, str] = {}
    for serial, key in dict(data.get("vehicles", {})).items():
        if not _NAME.fullmatch(serial):
            raise SecurityError(f"{path}: vehicles: bad serial number {serial[:70]!r}")
        vehicles[take(key, f"vehicles.{serial}")] = serial
    control: dict[bytes, ControlPrincipal] = {}
    for name, entry in dict(data.get("control", {})).items():
        where = f"control.{name}"
        if not _NAME.fullmatch(name) or not isinstance(entry, dict):
            raise SecurityError(f"{path}: {where}: expected a name and {{'key': ..., 'role': ...}}")
        try:
            role = Role(entry.get("role"))
        except ValueError:
            raise SecurityError(f"{path}: {where}: role must be 'operator' or 'viewer'") from None
        control[take(entry.get("key"), where)] = ControlPrincipal(name, role)
    return AllowList(vehicles=vehicles, control=control)


def load_server_security(key_dir: str | Path) -> ServerSecurity:
    """The core's security from a key directory (``core.key_secret`` and ``allow.json``)."""
    key_dir = Path(key_dir)
    return ServerSecurity(
        keys=load_key_pair(key_dir / f"{SERVER_KEY_NAME}.key_secret"),
        allow=load_allow_list(key_dir / ALLOW_LIST_NAME),
    )


def load_client_security(key_dir: str | Path, name: str) -> ClientSecurity:
    """A client's security from a key directory (``NAME.key_secret`` and ``core.key``)."""
    key_dir = Path(key_dir)
    return ClientSecurity(
        keys=load_key_pair(key_dir / f"{name}.key_secret"),
        server_public=load_public_key(key_dir / f"{SERVER_KEY_NAME}.key"),
    )


def _write_certificate(path: Path, public: bytes, secret: bytes | None, mode: int) -> None:
    kind = "Secret" if secret else "Public"
    lines = [
        f"#   ****  Generated on {datetime.datetime.now():%Y-%m-%d %H:%M:%S} by igv keys generate  ****",
        f"#   ZeroMQ CURVE {kind} Certificate",
        "",
        "metadata",
        "curve",
        f'    public-key = "{public.decode()}"',
    ]
    if secret:
        lines.append(f'    secret-key = "{secret.decode()}"')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, mode)


def check_key_name(key_dir: str | Path, name: str, *, force: bool = False) -> None:
    """Raise :class:`SecurityError` unless a key pair ``name`` may be written in ``key_dir``."""
    if not _NAME.fullmatch(name):
        raise SecurityError(f"key name {name[:70]!r} must match {_NAME.pattern}")
    public_path = Path(key_dir) / f"{name}.key"
    if not force and (public_path.exists() or public_path.with_suffix(".key_secret").exists()):
        raise SecurityError(f"{public_path}: exists (pass --force to replace it)")


def write_key_pair(key_dir: str | Path, name: str, *, force: bool = False) -> KeyPair:
    """Create ``NAME.key`` (mode 644) and ``NAME.key_secret`` (mode 600) in ``key_dir``."""
    check_key_name(key_dir, name, force=force)
    key_dir = Path(key_dir)
    public_path, secret_path = key_dir / f"{name}.key", key_dir / f"{name}.key_secret"
    key_dir.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.curve_keypair()
    _write_certificate(secret_path, public, secret, 0o600)
    _write_certificate(public_path, public, None, 0o644)
    return KeyPair(public=public, secret=secret)


def update_allow_list(
    path: str | Path, vehicles: Mapping[str, bytes], control: Mapping[str, tuple[bytes, Role]]
) -> None:
    """Add (or replace) entries of an allow-list file, creating it if needed."""
    path = Path(path)
    data: dict[str, dict[str, Any]] = {"vehicles": {}, "control": {}}
    if path.exists():
        load_allow_list(path)  # refuse to extend a broken file
        data.update(json.loads(path.read_text(encoding="utf-8")))
    for serial, key in vehicles.items():
        data.setdefault("vehicles", {})[serial] = key.decode()
    for name, (key, role) in control.items():
        data.setdefault("control", {})[name] = {"key": key.decode(), "role": role.value}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    load_allow_list(path)


# --------------------------------------------------------------------------- sockets


def secure_server(socket: zmq.Socket, security: ServerSecurity, domain: str) -> None:
    """Make ``socket`` a CURVE server whose peers the ZAP handler checks in ``domain``."""
    socket.curve_secretkey = security.keys.secret
    socket.curve_publickey = security.keys.public
    socket.curve_server = True
    socket.zap_domain = domain.encode()
    socket.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def secure_client(socket: zmq.Socket, security: ClientSecurity) -> None:
    """Make ``socket`` a CURVE client of the core."""
    socket.curve_secretkey = security.keys.secret
    socket.curve_publickey = security.keys.public
    socket.curve_serverkey = security.server_public


@dataclass(frozen=True)
class ZapDecision:
    """The ZAP reply frames and what to log."""

    reply: list[bytes]
    allowed: bool
    domain: str
    address: str
    key: str
    user_id: str
    reason: str


def zap_decide(request: Sequence[bytes], allow: AllowList) -> ZapDecision:
    """Answer one ZAP request (RFC 27) from the allow-list; pure, for the core's poll loop."""
    if len(request) < 6:
        return ZapDecision([b"1.0", b"", b"500", b"malformed ZAP request", b"", b""], False, "", "", "", "", "malformed")
    version, request_id, domain_b, address_b, _identity, mechanism = request[:6]
    credentials = request[6:]
    domain = domain_b.decode("utf-8", "replace")
    address = address_b.decode("utf-8", "replace")

    def reply(code: bytes, text: str, user: str = "", key: str = "") -> ZapDecision:
        frames = [b"1.0", request_id, code, text.encode(), user.encode(), b""]
        return ZapDecision(frames, code == b"200", domain, address, key, user, text)

    if version != b"1.0":
        return reply(b"400", "unsupported ZAP version")
    if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
        return reply(b"400", f"mechanism {mechanism.decode('utf-8', 'replace')} not allowed, CURVE required")
    key = z85.encode(credentials[0])
    shown = key.decode()
    if domain == VEHICLE_DOMAIN:
        serial = allow.vehicles.get(key)
        if serial is None:
            return reply(b"400", "unknown vehicle key", key=shown)
        return reply(b"200", "OK", user=serial, key=shown)
    if domain in (CONTROL_DOMAIN, TELEMETRY_DOMAIN):
        principal = allow.control.get(key)
        if principal is None:
            return reply(b"400", "unknown control key", key=shown)
        return reply(b"200", "OK", user=principal.name, key=shown)
    return reply(b"400", "unknown ZAP domain", key=shown)


# --------------------------------------------------------------------------- bind policy


def is_loopback(endpoint: str) -> bool:
    """True for ``tcp://127.x.x.x:port``, ``tcp://[::1]:port``, ``localhost``, ipc and inproc."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name or a host name: not provably loopback


def check_bind_policy(endpoints: Sequence[str], secured: bool, insecure: bool, logger: logging.Logger) -> None:
    """Refuse to bind a non-loopback endpoint without keys unless ``insecure``.

    Raises
    ------
    SecurityError
        Naming the endpoint and the two ways out.
    """
    exposed = [e for e in endpoints if not is_loopback(e)]
    if secured or not exposed:
        return
    if not insecure:
        raise SecurityError(
            f"refusing to bind {exposed[0]} without CurveZMQ keys; configure keys or pass --insecure"
        )
    logger.warning("binding %s WITHOUT authentication or encryption (--insecure)", ", ".join(exposed))
