"""bitcoind's command line and ``bitcoin.conf`` handling.

Mirrors Core's ``common/args.cpp`` (ParseParameters, GetArg/GetIntArg/GetBoolArg/GetArgs, chain
selection), ``common/config.cpp`` (ReadConfigFiles, ``includeconf``) and ``common/settings.cpp``
(how the sources merge). Precedence, highest first: forced values, the command line (last value
wins), the config file's ``[<chain>]`` section, then its top level (in the file the *first*
value wins, as in Core). Options flagged network-only (``port``, ``rpcport``, ``bind``...) are
not taken from the top level of the file unless the chain is main. ``-noX`` sets X to false,
``-noX=0`` to true. Multi-valued options (``get_all``) collect values from every source.

Unlike bitcoind, an unknown command-line option is not fatal for the node: it is recorded in
:attr:`Config.unknown` for the node to log (``strict=True`` restores Core's error, which
``pyrite-cli`` uses). Errors raise :class:`ConfigError`; the caller prints ``Error: <message>``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeAlias

from pyrite.node.options import CHAIN_OPTIONS, NODE_OPTIONS, OptionSpec, option_table

__all__ = [
    "CHAINS",
    "CHAIN_OPTIONS",
    "CONF_FILENAME",
    "NODE_OPTIONS",
    "ChainInfo",
    "Config",
    "ConfigError",
    "OptionSpec",
    "Value",
    "atoi",
    "default_datadir",
    "interpret_bool",
    "option_table",
]

CONF_FILENAME: Final = "bitcoin.conf"
Value: TypeAlias = str | bool  # False = negated (-noX), True = double negative (-noX=0)


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """Per-chain constants that the command line and config need."""

    name: str  # Core's chain type string, also the config section name
    data_dir: str  # sub-directory of the datadir ("" for main)
    rpc_port: int
    p2p_port: int


CHAINS: Final[Mapping[str, ChainInfo]] = {
    "main": ChainInfo("main", "", 8332, 8333),
    "test": ChainInfo("test", "testnet3", 18332, 18333),
    "testnet4": ChainInfo("testnet4", "testnet4", 48332, 48333),
    "signet": ChainInfo("signet", "signet", 38332, 38333),
    "regtest": ChainInfo("regtest", "regtest", 18443, 18444),
}


class ConfigError(Exception):
    """A fatal configuration problem.

    ``detail`` is Core's bare error; ``kind`` says where it arose (``args``, ``datadir``,
    ``config``, ``chain``) and ``message`` is what bitcoind prints after ``Error: ``.
    """

    _PREFIX: Final = {
        "args": "Error parsing command line arguments: ",
        "config": "Error reading configuration file: ",
    }

    def __init__(self, detail: str, kind: str = "args") -> None:
        self.detail = detail
        self.kind = kind
        self.message = self._PREFIX.get(kind, "") + detail
        super().__init__(self.message)


# --------------------------------------------------------------------------------------------
# Value helpers (Core's InterpretBool / LocaleIndependentAtoi / settings spans)
# --------------------------------------------------------------------------------------------

_INT_PREFIX: Final = re.compile(r"-?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def atoi(text: str) -> int:
    """Leading integer of ``text`` like C atoi: 0 when there is none, saturating at int64."""
    s = text.strip()
    if s.startswith("+"):
        if s.startswith("+-"):
            return 0
        s = s[1:]
    match = _INT_PREFIX.match(s)
    if match is None:
        return 0
    return max(_INT64_MIN, min(_INT64_MAX, int(match.group())))


def interpret_bool(text: str) -> bool:
    """``""`` is true, otherwise the leading integer is non-zero (``"true"`` is false!)."""
    return True if text == "" else atoi(text) != 0


def _to_str(value: Value) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else value


def _negated_count(values: Sequence[Value]) -> int:
    """How many leading values the last negation cancels (SettingsSpan::negated)."""
    for i in range(len(values), 0, -1):
        if values[i - 1] is False:
            return i
    return 0


def _last_negated(values: Sequence[Value]) -> bool:
    return bool(values) and values[-1] is False


def _interpret_key(key: str) -> tuple[str, str, bool]:
    """``[section.][no]name`` -> (section, name, negated)."""
    section, dot, rest = key.partition(".")
    if not dot:
        section, rest = "", key
    negated = rest.startswith("no")
    return section, rest[2:] if negated else rest, negated


def _interpret_value(name: str, negated: bool, value: str | None, warnings: list[str]) -> Value:
    if negated:
        if value is not None and not interpret_bool(value):
            warnings.append(
                f"Warning: parsed potentially confusing double-negative -{name}={value}"
            )
            return True
        return False
    return "" if value is None else value


def default_datadir(home: str | None = None) -> Path:
    """``~/.bitcoin`` (``~/Library/Application Support/Bitcoin`` on macOS)."""
    base = Path(home if home else os.environ.get("HOME") or "/")
    if sys.platform == "darwin":
        return base / "Library" / "Application Support" / "Bitcoin"
    return base / ".bitcoin"


class Config:
    """The merged settings of one program start. Build it with :meth:`Config.load`."""

    def __init__(self, options: Mapping[str, OptionSpec], cwd: Path, home: str | None) -> None:
        self._options = options
        self._cwd = cwd
        self._home = home
        self._forced: dict[str, Value] = {}
        self._cmdline: dict[str, list[Value]] = {}
        self._file: dict[str, dict[str, list[Value]]] = {}
        self._file_sections: list[tuple[str, str, int]] = []
        self._network = ""
        self.positional: list[str] = []
        """Arguments from the first one not starting with ``-`` (commands for pyrite-cli)."""
        self.unknown: list[str] = []
        """Unrecognised option names as given (``-foo``, or ``foo`` from a config file)."""
        self.warnings: list[str] = []
        """Non-fatal remarks for the log (unknown sections, ignored values...)."""
        self.config_path: Path | None = None
        self.chain_name = "main"

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        argv: Sequence[str],
        *,
        options: Mapping[str, OptionSpec] = NODE_OPTIONS,
        strict: bool = False,
        read_config: bool = True,
        cwd: Path | None = None,
        home: str | None = None,
    ) -> Config:
        """Parse ``argv`` (without the program name), read the config files, pick the chain.

        Raises ConfigError. ``home`` overrides ``$HOME`` for the default datadir.
        """
        config = cls(options, cwd or Path.cwd(), home)
        config._parse_command_line(argv, strict)
        config._check_datadir("datadir")
        if read_config:
            config._read_config_files()
        config._select_chain()
        return config

    def _parse_command_line(self, argv: Sequence[str], strict: bool) -> None:
        for index, arg in enumerate(argv):
            if arg == "-":
                break
            key, eq, raw = arg.partition("=")
            if not key.startswith("-"):
                self.positional = list(argv[index:])
                break
            key = key[2:] if key.startswith("--") else key[1:]
            section, name, negated = _interpret_key(key)
            if name not in self._options or section:
                if strict:
                    raise ConfigError(f"Invalid parameter {arg}")
                self.unknown.append(arg.partition("=")[0])
                if section:
                    continue
            value = _interpret_value(name, negated, raw if eq else None, self.warnings)
            self._cmdline.setdefault(name, []).append(value)
        includes = self._cmdline.get("includeconf", [])
        if includes[_negated_count(includes) :]:
            first = includes[_negated_count(includes)]
            shown = ("true" if first else "false") if isinstance(first, bool) else f'"{first}"'
            raise ConfigError(f"-includeconf cannot be used from commandline; -includeconf={shown}")

    def _check_datadir(self, kind: str) -> None:
        path = self.path_arg("datadir")
        if path and not (self._cwd / path).is_dir():
            what = "Specified" if kind == "datadir" else "specified"
            message = f'{what} data directory "{self.get_str("datadir", "")}" does not exist.'
            raise ConfigError(message, kind)

    def _read_config_files(self) -> None:
        self._file.clear()
        self._file_sections.clear()
        conf = self.path_arg("conf", CONF_FILENAME)
        if not conf:  # -noconf
            return
        self.config_path = self.abs_path_for_config_val(conf, net_specific=False)
        try:
            text = self.config_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            if self.is_set("conf"):
                raise ConfigError(
                    f'specified config file "{self.config_path}" could not be opened.', "config"
                ) from None
            return
        self._read_config_text(text, str(self.config_path))
        if "includeconf" not in self._cmdline:
            chain = self._chain_string()
            names: list[str] = []
            chain_count = self._add_includes(chain, names)
            default_count = self._add_includes("", names)
            for name in names:
                path = self.abs_path_for_config_val(name, net_specific=False)
                try:
                    included = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    raise ConfigError(
                        f"Failed to include configuration file {name}", "config"
                    ) from None
                self._read_config_text(included, name)
            names = []
            self._add_includes(chain, names, chain_count)
            self._add_includes("", names, default_count)
            final_chain = self._chain_string()
            if final_chain != chain:
                self._add_includes(final_chain, names)
            for name in names:
                self.warnings.append(
                    f"-includeconf cannot be used from included files; ignoring -includeconf={name}"
                )
        self._check_datadir("config")

    def _add_includes(self, section: str, out: list[str], skip: int = 0) -> int:
        values = self._file.get(section, {}).get("includeconf", [])
        out.extend(v for v in values[max(skip, _negated_count(values)) :] if isinstance(v, str))
        return len(values)

    def _read_config_text(self, text: str, filename: str) -> None:
        """Parse one file (mirrors GetConfigOptions + ReadConfigStream)."""
        prefix = ""
        for number, line in enumerate(text.split("\n"), start=1):
            used_hash = "#" in line
            line = line.split("#", 1)[0].strip(" \t\r\n")
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                self._file_sections.append((section, filename, number))
                prefix = section + "."
                continue
            if line.startswith("-"):
                raise ConfigError(
                    f"parse error on line {number}: {line}, options in configuration file must "
                    "be specified without leading -",
                    "config",
                )
            key, eq, raw = line.partition("=")
            if not eq:
                hint = ""
                if line.startswith("no"):
                    hint = f", if you intended to specify a negated option, use {line}=1 instead"
                raise ConfigError(f"parse error on line {number}: {line}{hint}", "config")
            name = prefix + key.strip(" \t\r\n")
            if used_hash and "rpcpassword" in name:
                raise ConfigError(
                    f"parse error on line {number}, using # in rpcpassword can be ambiguous and "
                    "should be avoided",
                    "config",
                )
            dot = name.rfind(".")
            if dot != -1 and len(prefix) <= dot:
                self._file_sections.append((name[:dot], filename, number))
            self._store_file_value(name, raw.strip(" \t\r\n"))

    def _store_file_value(self, key: str, raw: str) -> None:
        section, name, negated = _interpret_key(key)
        if name == "conf":
            raise ConfigError(
                "conf cannot be set in the configuration file; use includeconf= if you want to "
                "include additional config files",
                "config",
            )
        if name not in self._options:
            self.warnings.append(f"Ignoring unknown configuration value {key}")
            self.unknown.append(key)
        value = _interpret_value(name, negated, raw, self.warnings)
        self._file.setdefault(section, {}).setdefault(name, []).append(value)

    def _chain_flag(self, name: str) -> bool:
        value = self._setting(name, "", ignore_default_section=False, chain_type=True)
        return (
            False if value is None else value if isinstance(value, bool) else interpret_bool(value)
        )

    def _chain_string(self) -> str:
        """The selected chain (mirrors GetChainArg); raises on conflicting flags."""
        flags = {n: self._chain_flag(n) for n in ("regtest", "signet", "testnet", "testnet4")}
        chain_arg = self.get_str("chain")
        if (chain_arg is not None) + sum(flags.values()) > 1:
            raise ConfigError(
                "Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. Can "
                "use at most one.",
                "chain",
            )
        if chain_arg is not None:
            return chain_arg
        for flag, chain in (("regtest", "regtest"), ("signet", "signet"), ("testnet", "test")):
            if flags[flag]:
                return chain
        return "testnet4" if flags["testnet4"] else "main"

    def _select_chain(self) -> None:
        chain = self._chain_string()
        if chain not in CHAINS:
            raise ConfigError(f"Unknown chain {chain}.", "chain")
        self.chain_name = self._network = chain
        for section, filename, line in self._file_sections:
            if section not in CHAINS:
                self.warnings.append(f"{filename}:{line} Section [{section}] is not recognized.")
        if chain != "main":
            for name, spec in self._options.items():
                if spec.network_only and self._only_default_section(name):
                    self.warnings.append(
                        f"Config setting for -{name} only applied on {chain} network when in "
                        f"[{chain}] section."
                    )

    # -- merging (mirrors common::GetSetting / GetSettingsList) ----------------------------

    def _sources(self, name: str, section: str) -> list[tuple[str, list[Value]]]:
        found: list[tuple[str, list[Value]]] = []
        if name in self._forced:
            found.append(("forced", [self._forced[name]]))
        if name in self._cmdline:
            found.append(("cmdline", self._cmdline[name]))
        if section and name in self._file.get(section, {}):
            found.append(("network", self._file[section][name]))
        if name in self._file.get("", {}):
            found.append(("default", self._file[""][name]))
        return found

    def _ignore_default(self, name: str) -> bool:
        spec = self._options.get(name)
        return self._network not in ("", "main") and spec is not None and spec.network_only

    def _setting(
        self, name: str, section: str, *, ignore_default_section: bool, chain_type: bool = False
    ) -> Value | None:
        for source, values in self._sources(name, section):
            negated_last = _last_negated(values)
            if ignore_default_section and source == "default" and not negated_last:
                continue
            if chain_type and negated_last:
                continue
            span = values[_negated_count(values) :]
            if span:
                in_file = source in ("network", "default") and not chain_type
                return span[0] if in_file else span[-1]
            if negated_last:
                return False
        return None

    def _get(self, name: str) -> Value | None:
        name = name.lstrip("-")
        return self._setting(name, self._network, ignore_default_section=self._ignore_default(name))

    def _only_default_section(self, name: str) -> bool:
        sources = [
            s
            for s, values in self._sources(name, self._network)
            if values[_negated_count(values) :]
        ]
        return sources == ["default"]

    # -- getters ---------------------------------------------------------------------------

    def get_str(self, name: str, default: str | None = None) -> str | None:
        """The effective value as a string (negated -> ``"0"``), or ``default`` when unset."""
        value = self._get(name)
        return default if value is None else _to_str(value)

    def get_int(self, name: str, default: int = 0) -> int:
        value = self._get(name)
        if value is None:
            return default
        return int(value) if isinstance(value, bool) else atoi(value)

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self._get(name)
        if value is None:
            return default
        return value if isinstance(value, bool) else interpret_bool(value)

    def get_all(self, name: str) -> list[str]:
        """Every value of a multi-valued option (rpcauth, debug, addnode...), in order."""
        name = name.lstrip("-")
        ignore_default = self._ignore_default(name)
        result: list[str] = []
        done = False
        prev_negated_empty = False
        for source, values in self._sources(name, self._network):
            zombie = source in ("network", "default") and not prev_negated_empty
            if ignore_default and source == "default":
                continue
            if not done or zombie:
                result.extend(_to_str(v) for v in values[_negated_count(values) :])
            done = done or _negated_count(values) > 0 or source == "forced"
            prev_negated_empty = prev_negated_empty or (_last_negated(values) and not result)
        return result

    def is_set(self, name: str) -> bool:
        return self._get(name) is not None

    def is_negated(self, name: str) -> bool:
        return self._get(name) is False

    def path_arg(self, name: str, default: str = "") -> str:
        """A path option as given ("" when negated), with trailing slashes removed."""
        if self.is_negated(name):
            return ""
        value = self.get_str(name, "") or default
        return value.rstrip("/") or value

    def force_set(self, name: str, value: str) -> None:
        """Override every other source (Core's ForceSetArg)."""
        self._forced[name.lstrip("-")] = value

    def soft_set(self, name: str, value: str) -> bool:
        """Set only when unset anywhere; returns whether it was set (Core's SoftSetArg)."""
        if self.is_set(name):
            return False
        self.force_set(name, value)
        return True

    # -- chain and paths -------------------------------------------------------------------

    @property
    def chain(self) -> ChainInfo:
        return CHAINS[self.chain_name]

    @property
    def datadir(self) -> Path:
        """The base data directory (``-datadir`` made absolute, or the default)."""
        given = self.path_arg("datadir")
        if not given:
            return default_datadir(self._home)
        return Path(os.path.abspath(self._cwd / given))

    @property
    def net_datadir(self) -> Path:
        """``<datadir>/<chain dir>``: ``regtest``, ``testnet3``, ``testnet4``, ``signet``."""
        sub = self.chain.data_dir
        return self.datadir / sub if sub else self.datadir

    def abs_path_for_config_val(self, path: str | Path, net_specific: bool = True) -> Path:
        """Relative paths are taken from the (network) datadir, like AbsPathForConfigVal."""
        p = Path(path)
        if p.is_absolute():
            return p
        return (self.net_datadir if net_specific else self.datadir) / p

    def auth_cookie_path(self) -> Path | None:
        """The RPC cookie file (mirrors GetAuthCookieFile): ``-rpccookiefile``, default
        ``<net datadir>/.cookie``; None when disabled with ``-norpccookiefile``."""
        name = self.path_arg("rpccookiefile", ".cookie")
        return self.abs_path_for_config_val(name) if name else None

    # -- reporting -------------------------------------------------------------------------

    def set_names(self) -> list[str]:
        """Names of options given anywhere that apply to the selected chain, sorted."""
        names = set(self._cmdline) | set(self._file.get("", {}))
        names |= set(self._file.get(self._network, {}))
        return sorted(n for n in names if n in self._options)

    def ignored_options(self, supported: Collection[str] | None = None) -> list[str]:
        """Known options that were set but pyrite does not act on (for a log line)."""
        acted = (
            supported
            if supported is not None
            else {n for n, spec in self._options.items() if spec.supported}
        )
        return [n for n in self.set_names() if n not in acted and self.is_set(n)]

    def log_lines(self) -> list[str]:
        """``Config file arg:`` / ``Command-line arg:`` lines as Core logs them, secrets masked."""

        def shown(name: str, value: Value) -> str:
            spec = self._options.get(name)
            if spec is not None and spec.sensitive:
                return "****"
            return ("true" if value else "false") if isinstance(value, bool) else f'"{value}"'

        lines = []
        for section in sorted(self._file):
            prefix = f"[{section}] " if section else ""
            for name in sorted(self._file[section]):
                if name in self._options:
                    lines += [
                        f"Config file arg: {prefix}{name}={shown(name, v)}"
                        for v in self._file[section][name]
                    ]
        for name in sorted(self._cmdline):
            if name in self._options:
                lines += [f"Command-line arg: {name}={shown(name, v)}" for v in self._cmdline[name]]
        return lines
