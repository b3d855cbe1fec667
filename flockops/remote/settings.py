"""How to reach a host: its connection settings, from the inventory and ``~/.ssh/config``.

The one home of what decides a connection: the ``ansible_*`` variables of an inventory host
(:class:`Target`, :func:`target_for`), the controller's SSH options, ``~/.ssh/config`` merged under
the inventory (:func:`resolve`, :class:`SshEndpoint`), whether host keys are checked, and the
true/false words every setting is read with (:func:`boolean`).
"""

from __future__ import annotations

import getpass
import logging
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flockops.errors import ConnectionFailure, ErrorKind, InventoryError, UsageError
from flockops.inventory.secrets import MASK, Vaulted, is_secret

if TYPE_CHECKING:
    import paramiko

    from flockops.inventory.model import Host

# Ansible's boolean words (module_utils/parsing/convert_bool.py), compared lower-cased and stripped.
TRUE_WORDS = frozenset({"y", "yes", "on", "1", "true", "t"})
FALSE_WORDS = frozenset({"n", "no", "off", "0", "false", "f"})


def boolean(value: object) -> bool | None:
    """A setting's true or false: a bool as it is, one of Ansible's words, or None for a value that
    is not set (None, or empty text: an unset variable). ValueError for any other word, which must
    not silently mean either."""
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is neither true nor false (say true or false, yes or no, on or off, 1 or 0)")


@dataclass(frozen=True, slots=True)
class Target:
    """How to reach one host, from its ``ansible_*`` connection variables."""

    name: str
    address: str
    # None: let ~/.ssh/config decide, else 22.
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    password_vaulted: bool = False  # the inventory's password is !vault-encrypted: unusable here
    # "ssh" unless set; "local" means run on this machine, without SSH.
    connection: str = "ssh"
    python: str | None = None
    ssh_common_args: str | None = None
    ssh_extra_args: str | None = None
    proxy_jump: str | None = None
    proxy_command: str | None = None
    host_key_checking: bool | None = None
    # Every variable of the host, secrets included: hence no repr.
    vars: Mapping[str, Any] = field(default_factory=dict, repr=False)


# The variables each setting is read from, as the ssh connection plugin documents them. When several
# are set the last one listed wins, as in ansible-core's config manager.
_ADDRESS_VARS = ("ansible_host", "ansible_ssh_host")
_PORT_VARS = ("ansible_port", "ansible_ssh_port")
_USER_VARS = ("ansible_user", "ansible_ssh_user")
_KEY_VARS = ("ansible_private_key_file", "ansible_ssh_private_key_file")
_PASSWORD_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
_HOST_KEY_VARS = ("host_key_checking", "ansible_host_key_checking", "ansible_ssh_host_key_checking")


def target_for(host: Host) -> Target:
    """The connection settings for ``host``. Raises InventoryError for a value that cannot be one.

    ``ansible_ssh_common_args`` and ``ansible_ssh_extra_args`` are kept raw, and a ProxyJump
    (``-J bastion``, ``-o ProxyJump=bastion``, ``-oProxyJump=bastion``, ``-o 'ProxyJump bastion'``) or
    ProxyCommand found in them is lifted out. A connection variable holding a Jinja template
    (``{{ ... }}``) is an error: Ansible would evaluate it, flockops does not, and connecting to the
    literal text would only fail later and less clearly.
    """
    v = host.vars

    def last(names: Sequence[str]) -> Any:
        for name in reversed(names):
            if v.get(name) is not None:
                value = v[name]
                if isinstance(value, str) and ("{{" in value or "{%" in value):
                    shown = MASK if is_secret(name) else repr(value)
                    raise InventoryError(f"host {host.name!r} variable {name!r} is a Jinja template "
                                         f"({shown}); flockops does not evaluate templates", key=name)
                return value
        return None

    def text(names: Sequence[str]) -> str | None:
        value = last(names)
        return None if value is None else str(value)

    port_value = last(_PORT_VARS)
    port: int | None = None
    if port_value is not None:
        try:
            if isinstance(port_value, (bool, float)):
                raise ValueError(port_value)  # int() would make 22.5 port 22
            port = int(port_value)
            if not 0 < port < 65536:
                raise ValueError(port)
        except (TypeError, ValueError):
            raise InventoryError(f"host {host.name!r} variable 'ansible_port' must be a port number "
                                 f"(1 to 65535), got {port_value!r}", key="ansible_port") from None
    try:
        checking = boolean(last(_HOST_KEY_VARS))
    except ValueError:
        raise InventoryError(f"host {host.name!r} variable 'ansible_host_key_checking' must be a boolean, "
                             f"got {last(_HOST_KEY_VARS)!r}", key="ansible_host_key_checking") from None
    key_file = text(_KEY_VARS)
    password = last(_PASSWORD_VARS)
    common = text(("ansible_ssh_common_args",))
    extra = text(("ansible_ssh_extra_args",))
    jump: str | None = None
    command: str | None = None
    for key, args in (("ansible_ssh_common_args", common), ("ansible_ssh_extra_args", extra)):
        if args:
            found_jump, found_command = _proxy_options(host.name, key, args)
            # ssh keeps the first value it is given for an option.
            jump = jump or found_jump
            command = command or found_command
    return Target(
        name=host.name,
        address=text(_ADDRESS_VARS) or host.name,
        port=port,
        user=text(_USER_VARS),
        key_file=os.path.expanduser(key_file) if key_file else None,
        # A !vault password cannot be decrypted here: as if none were set, and said if login fails.
        password=None if password is None or isinstance(password, Vaulted) else str(password),
        password_vaulted=isinstance(password, Vaulted),
        # "ansible.builtin.local" is "local": the collection prefix names the same plugin.
        connection=(text(("ansible_connection",)) or "ssh").removeprefix("ansible.builtin."),
        python=text(("ansible_python_interpreter",)),
        ssh_common_args=common,
        ssh_extra_args=extra,
        proxy_jump=jump,
        proxy_command=command,
        host_key_checking=checking,
        vars=v,
    )


def _proxy_options(host: str, key: str, args: str) -> tuple[str | None, str | None]:
    """(ProxyJump, ProxyCommand) from ssh arguments such as ``-o ProxyCommand="ssh -W %h:%p bastion"``."""
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise InventoryError(f"host {host!r} variable {key!r} is not a valid shell word list: {exc}: {args!r}",
                             key=key) from None
    jump: str | None = None
    command: str | None = None
    options: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-J", "-o") and i + 1 < len(words):
            options.append(("ProxyJump=" if word == "-J" else "") + words[i + 1])
            i += 2
            continue
        if word.startswith("-J") and len(word) > 2:
            options.append("ProxyJump=" + word[2:])
        elif word.startswith("-o") and len(word) > 2:
            options.append(word[2:])
        i += 1
    for option in options:
        # "Name=value", "Name value" and "Name = value" are all the same option to ssh.
        name, _, value = option.strip().replace("=", " ", 1).partition(" ")
        value = value.strip().lstrip("=").strip()
        if name.lower() == "proxyjump" and jump is None and value:
            jump = None if value.lower() == "none" else value
        elif name.lower() == "proxycommand" and command is None and value:
            command = None if value.lower() == "none" else value
    return jump, command


@dataclass(frozen=True)
class SshOptions:
    connect_timeout_s: float = 10.0
    known_hosts_files: tuple[Path, ...] = ()
    # None: follow the inventory / FLOCKOPS_HOST_KEY_CHECKING; True or False forces it.
    host_key_checking: bool | None = None
    ssh_config_path: Path | None = field(default_factory=lambda: Path.home() / ".ssh" / "config")
    # Warnings (accepted unknown keys) are handed here; never secrets. By default they go to the
    # "flockops" logger, which Python prints on stderr unless the program configures logging: an
    # accepted unknown key is never silent.
    warn: Callable[[str], None] = lambda message: logging.getLogger("flockops").warning("%s", message)


@dataclass(frozen=True, slots=True)
class Hop:
    """One -J hop, as ssh would reach it: its own HostName, User, Port and IdentityFile from
    ~/.ssh/config (ssh connects to a jump host with the jump host's settings, not the target's)."""

    user: str
    hostname: str
    port: int
    key_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class SshEndpoint:
    """Where and as whom to connect, after inventory vars and ~/.ssh/config are merged."""

    name: str
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    password: str | None = field(default=None, repr=False)
    password_vaulted: bool = False
    # The -J hops in order, resolved through ~/.ssh/config like the target.
    jumps: tuple[Hop, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"


def _ssh_config(path: Path | None) -> paramiko.SSHConfig | None:
    if path is None or not path.is_file():
        return None
    import paramiko

    try:
        return paramiko.SSHConfig.from_path(str(path))
    except (OSError, ValueError, paramiko.SSHException) as exc:  # SSHException: ConfigParseError
        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"cannot read {path}: {exc}; fix it, or the hosts it "
                                "names cannot be reached") from None


def resolve(target: Target, options: SshOptions) -> SshEndpoint:
    """Inventory variables win over ~/.ssh/config, which wins over defaults (as with Ansible)."""
    config = _ssh_config(options.ssh_config_path)
    found: dict[str, Any] = dict(config.lookup(target.address)) if config else {}
    if target.key_file and not os.path.isfile(target.key_file):
        raise ConnectionFailure(ErrorKind.AUTH_FAILED, f"{target.name}: the private key file {target.key_file} "
                                "(ansible_ssh_private_key_file) does not exist")
    keys = (target.key_file,) if target.key_file else _identity_files(found)
    try:
        port = target.port if target.port is not None else int(found.get("port", 22))
    except ValueError:
        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{options.ssh_config_path} gives {target.address} the port "
                                f"{found.get('port')!r}, which is not a number") from None
    jump = target.proxy_jump or found.get("proxyjump")
    jump = None if jump is None or jump.strip().lower() == "none" else jump  # "none": no jump, as in ssh
    command = target.proxy_command or found.get("proxycommand")
    if command and command.strip().lower() != "none" and not jump:
        # Connecting directly instead would reach whatever answers at that address.
        raise ConnectionFailure(ErrorKind.UNREACHABLE,
                                f"{target.name}: a ProxyCommand is set (ansible_ssh_common_args or ~/.ssh/config), "
                                "which flockops does not run; use ProxyJump (-J) instead")
    return SshEndpoint(
        name=target.name,
        hostname=str(found.get("hostname", target.address)),
        port=port,
        user=target.user or str(found.get("user") or getpass.getuser()),
        key_files=keys,
        password=target.password,
        password_vaulted=target.password_vaulted,
        jumps=() if jump is None else tuple(_parse_hop(hop, spec=jump, config=config) for hop in jump.split(",")),
    )


def _identity_files(found: Mapping[str, Any]) -> tuple[str, ...]:
    # An IdentityFile that is not there is skipped, as ssh skips it.
    paths = (os.path.expanduser(k) for k in found.get("identityfile", ()))
    return tuple(path for path in paths if os.path.isfile(path))


def _parse_hop(hop: str, spec: str, config: paramiko.SSHConfig | None) -> Hop:
    """One hop of a ProxyJump list: "[user@]host[:port]" (or "[v6::addr]:port"). The host may be an
    alias of ~/.ssh/config, whose HostName, User, Port and IdentityFile apply; the user defaults as
    ssh's does (the config's, else the local user), never to the target's."""
    user, _, rest = hop.strip().rpartition("@")
    if rest.startswith("["):
        host, _, after = rest[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    else:
        host, _, port_text = rest.partition(":")
    found: dict[str, Any] = dict(config.lookup(host)) if config and host else {}
    port_text = port_text or str(found.get("port", 22))
    if not host or not port_text.isdigit():
        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"ProxyJump {spec!r}: {hop.strip()!r} is not [user@]host[:port]")
    port = int(port_text)
    return Hop(user or str(found.get("user") or getpass.getuser()), str(found.get("hostname", host)), port,
               _identity_files(found))


# Ansible's connection plugins that are SSH underneath (smart picks ssh or paramiko).
SSH_CONNECTIONS = frozenset({"ssh", "paramiko", "paramiko_ssh", "smart"})


def host_key_checking(target: Target, forced: bool | None, env: Mapping[str, str]) -> bool:
    """``forced`` (SshOptions.host_key_checking) wins, then the inventory's host_key_checking, then
    FLOCKOPS_HOST_KEY_CHECKING; on by default."""
    if forced is not None:
        return forced
    if target.host_key_checking is not None:
        return target.host_key_checking
    return env_host_key_checking(env)


def env_host_key_checking(env: Mapping[str, str]) -> bool:
    """FLOCKOPS_HOST_KEY_CHECKING: true unless it says false; UsageError for a word that is neither
    ("maybe" must not silently mean either)."""
    raw = env.get("FLOCKOPS_HOST_KEY_CHECKING")
    try:
        checking = boolean(raw)
    except ValueError:
        raise UsageError(f"FLOCKOPS_HOST_KEY_CHECKING={raw!r}: say true or false") from None
    return True if checking is None else checking
