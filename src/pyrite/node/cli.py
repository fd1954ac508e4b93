"""``pyrite-cli``: a command-line RPC client that behaves like ``bitcoin-cli``.

Mirrors Core's ``src/bitcoin-cli.cpp`` (options, credentials, ``-rpcwait``, output and exit codes)
and ``src/rpc/client.cpp`` (which arguments are JSON rather than strings; the table is in
:mod:`pyrite.node.cli_params`). Options and ``bitcoin.conf`` are read with
:mod:`pyrite.node.config`, so ``-datadir``, ``-conf``, the chain flags and ``[regtest]`` sections
work as for the node.

Output: a string result is printed as is, null prints nothing, anything else is JSON indented by
two spaces. An RPC error prints ``error code: N`` / ``error message:`` / text on stderr and exits
with ``abs(N)``, as bitcoin-cli does; other failures print ``error: ...`` and exit 1.
"""

from __future__ import annotations

import base64
import http.client
import json
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TextIO

from pyrite.node.cli_params import _BY_INDEX, _BY_NAME
from pyrite.node.config import Config, ConfigError
from pyrite.node.options import CHAIN_OPTIONS, OptionSpec, option_table
from pyrite.rpc.errors import (
    HTTP_BAD_REQUEST,
    HTTP_INTERNAL_SERVER_ERROR,
    HTTP_NOT_FOUND,
    HTTP_SERVICE_UNAVAILABLE,
    HTTP_UNAUTHORIZED,
    RPC_IN_WARMUP,
    RPC_WALLET_NOT_SPECIFIED,
)
from pyrite.rpc.http import split_host_port

DEFAULT_RPCCONNECT: Final = "127.0.0.1"
DEFAULT_HTTP_CLIENT_TIMEOUT: Final = 900
RETRY_INTERVAL: Final = 1.0  # seconds between -rpcwait attempts

CLI_OPTIONS: Final[Mapping[str, OptionSpec]] = option_table(
    f"""
    ? h help version conf datadir includeconf generate addrinfo getinfo netinfo color named
    rpcclienttimeout rpcconnect rpccookiefile rpcpassword rpcport rpcuser rpcwait rpcwallet
    rpcwaittimeout stdin stdinrpcpass stdinwalletpassphrase {CHAIN_OPTIONS}
    """,
    network_only="rpcport",
    sensitive="rpcpassword",
)


class CLIError(Exception):
    """A failure printed as ``error: <message>`` with exit code 1."""


class _ConnectionFailed(CLIError):
    """The server could not be reached (retried under ``-rpcwait``)."""


# --------------------------------------------------------------------------------------------
# JSON as UniValue reads and writes it: numbers keep their exact text
# --------------------------------------------------------------------------------------------


class _Number(str):
    """A JSON number kept as its original text, so 0.30000000 prints back unchanged."""


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_json(text: str) -> Any:
    """Parse JSON keeping number texts; NaN/Infinity are errors. Raises ValueError."""
    return json.loads(text, parse_float=_Number, parse_int=_Number, parse_constant=_reject_constant)


def write_json(value: Any, indent: int = 0, level: int = 1) -> str:
    """UniValue's writer: compact when ``indent`` is 0, otherwise ``write(indent)``'s layout
    (including ``[\\n]`` for an empty array)."""
    if isinstance(value, _Number):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = [
            json.dumps(str(k), ensure_ascii=False)
            + (": " if indent else ":")
            + write_json(v, indent, level + 1)
            for k, v in value.items()
        ]
        return _wrap("{", "}", items, indent, level)
    if isinstance(value, list | tuple):
        return _wrap("[", "]", [write_json(v, indent, level + 1) for v in value], indent, level)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _wrap(open_: str, close: str, items: list[str], indent: int, level: int) -> str:
    if not indent:
        return open_ + ",".join(items) + close
    pad = " " * (indent * level)
    body = "".join(
        f"{pad}{item}{',' if i < len(items) - 1 else ''}\n" for i, item in enumerate(items)
    )
    return f"{open_}\n{body}{' ' * (indent * (level - 1))}{close}"


# --------------------------------------------------------------------------------------------
# Arguments -> JSON-RPC parameters (mirrors RPCConvertValues / RPCConvertNamedValues)
# --------------------------------------------------------------------------------------------


def _arg_value(text: str, lenient: bool | None) -> Any:
    if lenient is None:
        return text
    try:
        return parse_json(text)
    except ValueError:
        if lenient:
            return text
        raise CLIError(f"Error parsing JSON: {text}") from None


def convert_params(method: str, args: Sequence[str]) -> list[Any]:
    """Positional arguments: JSON where Core's table says so, strings otherwise."""
    return [_arg_value(a, _BY_INDEX.get((method, i))) for i, a in enumerate(args)]


def convert_named_params(method: str, args: Sequence[str]) -> dict[str, Any]:
    """``name=value`` arguments; ones without ``=`` become the positional ``"args"`` list."""
    params: dict[str, Any] = {}
    positional: list[Any] = []
    for arg in args:
        name, eq, text = arg.partition("=")
        if not eq:
            positional.append(_arg_value(arg, _BY_INDEX.get((method, len(positional)))))
            continue
        params[name] = _arg_value(text, _BY_NAME.get((method, name)))
    if positional and "args" not in params:
        params["args"] = positional
    return params


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


def _version() -> str:
    try:
        return metadata.version("pyrite")
    except metadata.PackageNotFoundError:
        return "unknown"


def _usage() -> str:
    return (
        f"Pyrite RPC client version v{_version()}\n\n"
        "Usage:  pyrite-cli [options] <command> [params]  Send command to pyrited\n"
        "or:     pyrite-cli [options] -named <command> [name=value]...  Send command to "
        "pyrited (with named arguments)\n"
        "or:     pyrite-cli [options] help                List commands\n"
        "or:     pyrite-cli [options] help <command>      Get help for a command\n"
    )


class _Client:
    """One invocation's connection settings and credentials."""

    def __init__(self, config: Config, stderr: TextIO) -> None:
        self.config = config
        connect = config.get_str("rpcconnect", DEFAULT_RPCCONNECT) or DEFAULT_RPCCONNECT
        try:
            host, port = split_host_port(connect, 0)
        except ValueError:
            raise CLIError(f"Invalid port provided in -rpcconnect: {connect}") from None
        connect_port = port
        port = port or config.chain.rpc_port
        rpcport = config.get_str("rpcport")
        if rpcport is not None:
            if not rpcport.isdigit() or not 0 < int(rpcport) <= 0xFFFF:
                raise CLIError(f"Invalid port provided in -rpcport: {rpcport}")
            port = int(rpcport)
            if connect_port:
                print(
                    "Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport "
                    f"{port}",
                    file=stderr,
                )
        self.host, self.port = host, port
        timeout = config.get_int("rpcclienttimeout", DEFAULT_HTTP_CLIENT_TIMEOUT)
        self.timeout: float | None = timeout if timeout > 0 else None
        self.cookie_status: str | None = None  # None: password given; else ok/error/disabled
        password = config.get_str("rpcpassword", "") or ""
        if password:
            self.userpass = f"{config.get_str('rpcuser', '')}:{password}"
        else:
            self.userpass = self._read_cookie()
        wallet = config.get_str("rpcwallet")
        self.path = "/" if wallet is None else "/wallet/" + urllib.parse.quote(wallet, safe="")

    def _read_cookie(self) -> str:
        cookie = self.config.auth_cookie_path()
        if cookie is None:
            self.cookie_status = "disabled"
            return ""
        try:
            with open(cookie, encoding="utf-8") as fh:
                line = fh.readline().rstrip("\n")
        except OSError:
            self.cookie_status = "error"
            return ""
        self.cookie_status = "ok"
        return line

    def post(self, request: Any) -> Any:
        """Send one request (object or batch) and return the parsed reply."""
        if self.cookie_status == "error":  # the node may have written it since
            self.userpass = self._read_cookie()
        body = (write_json(request) + "\n").encode()
        auth = base64.b64encode(self.userpass.encode()).decode()
        headers = {
            "Connection": "close",
            "Content-Type": "application/json",
            "Authorization": f"Basic {auth}",
        }
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            status, data = response.status, response.read()
        except TimeoutError:
            raise self._unreachable(' (error code 0 - "timeout reached")') from None
        except (http.client.RemoteDisconnected, http.client.IncompleteRead):
            raise self._unreachable(' (error code 1 - "EOF reached")') from None
        except (OSError, http.client.HTTPException):
            raise self._unreachable("") from None
        finally:
            conn.close()
        return self._check_reply(status, data)

    def _unreachable(self, detail: str) -> _ConnectionFailed:
        return _ConnectionFailed(
            f"Could not connect to the server {self.host}:{self.port}{detail}\n\n"
            "Make sure the bitcoind server is running and that you are connecting to the "
            'correct RPC port.\nUse "pyrite-cli -help" for more info.'
        )

    def _check_reply(self, status: int, data: bytes) -> Any:
        if status == HTTP_UNAUTHORIZED:
            reason = {
                None: "Incorrect rpcuser or rpcpassword were specified.",
                "error": "Failed to read cookie file and no rpcpassword was specified.",
                "disabled": "Cookie file was disabled via -norpccookiefile and no rpcpassword "
                "was specified.",
                "ok": "Cookie file credentials were invalid and no rpcpassword was specified.",
            }[self.cookie_status]
            conf = self.config.config_path or self.config.datadir / "bitcoin.conf"
            message = f"Authorization failed: {reason} Configuration file: ({conf})"
            if self.cookie_status == "error":
                raise _CookieMissing(message)
            raise CLIError(message)
        if status == HTTP_SERVICE_UNAVAILABLE:
            raise CLIError(f"Server response: {data.decode('utf-8', 'replace')}")
        if status >= 400 and status not in (
            HTTP_BAD_REQUEST,
            HTTP_NOT_FOUND,
            HTTP_INTERNAL_SERVER_ERROR,
        ):
            raise CLIError(f"server returned HTTP error {status}")
        if not data:
            raise CLIError("no response from server")
        try:
            return parse_json(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise CLIError("couldn't parse reply from server") from None


class _CookieMissing(CLIError):
    """401 while the cookie file could not be read (retried under ``-rpcwait``)."""


def _request(method: str, params: Any, request_id: int = 1) -> dict[str, Any]:
    return {"method": method, "params": params, "id": _Number(str(request_id)), "jsonrpc": "2.0"}


def _call(client: _Client, request: Any, config: Config, is_batch: bool) -> Any:
    """Send with ``-rpcwait`` retries (mirrors ConnectAndCallRPC)."""
    wait = config.get_bool("rpcwait", False)
    wait_timeout = config.get_int("rpcwaittimeout", 0)
    deadline = time.monotonic() + wait_timeout
    while True:
        try:
            reply = client.post(request)
            if wait and not is_batch and isinstance(reply, dict):
                error = reply.get("error")
                if isinstance(error, dict) and str(error.get("code")) == str(RPC_IN_WARMUP):
                    raise _ConnectionFailed("server in warmup")
            return reply
        except _ConnectionFailed as exc:
            if wait and (wait_timeout <= 0 or time.monotonic() < deadline):
                time.sleep(RETRY_INTERVAL)
                continue
            raise _ConnectionFailed(f"timeout on transient error: {exc}") from None
        except _CookieMissing as exc:
            # a node that is starting may listen before its cookie is written: with
            # -rpcwait keep waiting for it (pyrite-cli extension; bitcoin-cli gives up)
            if wait and (wait_timeout <= 0 or time.monotonic() < deadline):
                time.sleep(RETRY_INTERVAL)
                continue
            raise CLIError(str(exc)) from None


def _getinfo(client: _Client, config: Config) -> dict[str, Any]:
    """``-getinfo``: a summary from several calls, as a JSON object."""
    methods = ["getnetworkinfo", "getblockchaininfo", "getwalletinfo", "getbalances"]
    batch = _call(client, [_request(m, [], i) for i, m in enumerate(methods)], config, True)
    if not isinstance(batch, list) or len(batch) != len(methods):
        raise CLIError("expected reply to have result, error and id properties")
    replies = {int(str(r.get("id"))): r for r in batch if isinstance(r, dict)}
    for i in (0, 1):
        if replies.get(i, {}).get("error") is not None:
            return replies[i]
    net = replies[0]["result"]
    chain = replies[1]["result"]
    result: dict[str, Any] = {
        "version": net.get("version"),
        "blocks": chain.get("blocks"),
        "headers": chain.get("headers"),
        "verificationprogress": chain.get("verificationprogress"),
        "timeoffset": net.get("timeoffset"),
        "connections": {
            "in": net.get("connections_in"),
            "out": net.get("connections_out"),
            "total": net.get("connections"),
        },
        "proxy": (net.get("networks") or [{}])[0].get("proxy", ""),
        "difficulty": chain.get("difficulty"),
        "chain": chain.get("chain"),
    }
    wallet = replies.get(2, {})
    if wallet.get("error") is None and isinstance(wallet.get("result"), dict):
        info = wallet["result"]
        result["walletname"] = info.get("walletname")
        result["keypoolsize"] = info.get("keypoolsize")
        balances = replies.get(3, {}).get("result")
        if isinstance(balances, dict):
            result["balance"] = balances.get("mine", {}).get("trusted")
    result["relayfee"] = net.get("relayfee")
    result["warnings"] = net.get("warnings")
    return {"result": result, "error": None, "id": _Number("1")}


def _format_error(error: Any) -> tuple[str, int]:
    """Mirrors ParseError: text for stderr and the exit code abs(code)."""
    if not isinstance(error, dict):
        return "error: " + write_json(error), 1
    text = ""
    code = error.get("code")
    if code is not None:
        text = f"error code: {write_json(code)}\n"
    message = error.get("message")
    if isinstance(message, str):
        text += "error message:\n" + message
    try:
        number = int(str(code))
    except ValueError:
        number = 1
    if number == RPC_WALLET_NOT_SPECIFIED:
        text += (
            ' Or for the CLI, specify the "-rpcwallet=<walletname>" option before the command'
            ' (run "pyrite-cli -h" for help or "pyrite-cli listwallets" to see which wallets '
            "are currently loaded)."
        )
    return text, abs(number) if number else 1


def _read_line(stdin: TextIO) -> str | None:
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else (line or None)


def _command_line_rpc(config: Config, stdin: TextIO, stderr: TextIO) -> tuple[str, int]:
    """Everything after option parsing (mirrors CommandLineRPC). Returns (text, exit code)."""
    args = list(config.positional)
    if config.get_bool("stdinrpcpass", False):
        if stdin.isatty():
            print("RPC password> ", end="", file=stderr, flush=True)
        password = _read_line(stdin)
        if password is None:
            raise CLIError("-stdinrpcpass specified but failed to read from standard input")
        config.force_set("rpcpassword", password)
    if config.get_bool("stdinwalletpassphrase", False):
        if not args or not args[0].startswith("walletpassphrase"):
            raise CLIError("-stdinwalletpassphrase is only applicable for walletpassphrase(change)")
        if stdin.isatty():
            print("Wallet passphrase> ", end="", file=stderr, flush=True)
        passphrase = _read_line(stdin)
        if passphrase is None:
            raise CLIError(
                "-stdinwalletpassphrase specified but failed to read from standard input"
            )
        args.insert(1, passphrase)
    if config.get_bool("stdin", False):
        rest = stdin.read()
        lines = rest.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        args += lines
    chosen = [o for o in ("getinfo", "netinfo", "generate", "addrinfo") if config.is_set(o)]
    if len(chosen) > 1:
        raise CLIError(f"Only one of {', '.join('-' + o for o in chosen)} may be specified.")
    if chosen and chosen[0] != "getinfo":
        raise CLIError(f"-{chosen[0]} is not supported by pyrite-cli")
    client = _Client(config, stderr)
    if chosen:
        if args:
            raise CLIError("-getinfo takes no arguments")
        reply = _getinfo(client, config)
    else:
        if not args:
            raise CLIError("too few parameters (need at least command)")
        method, params = args[0], args[1:]
        if config.get_bool("named", False):
            request = _request(method, convert_named_params(method, params))
        else:
            request = _request(method, convert_params(method, params))
        reply = _call(client, request, config, False)
    if not isinstance(reply, dict):
        raise CLIError("expected reply to have result, error and id properties")
    error = reply.get("error")
    if error is not None:
        return _format_error(error)
    result = reply.get("result")
    if result is None:
        return "", 0
    if isinstance(result, str) and not isinstance(result, _Number):
        return result, 0
    return write_json(result, indent=2), 0


def run(
    argv: Sequence[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    cwd: Path | None = None,
    home: str | None = None,
) -> int:
    """Run pyrite-cli with ``argv`` (no program name); returns the exit code."""
    inp = stdin if stdin is not None else sys.stdin
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        config = Config.load(argv, options=CLI_OPTIONS, strict=True, cwd=cwd, home=home)
    except ConfigError as exc:
        print(exc.message if exc.kind in ("args", "config") else f"Error: {exc.message}", file=err)
        return 1
    if not argv or any(config.is_set(o) for o in ("?", "h", "help", "version")):
        out.write(_usage())
        if not argv:
            print("Error: too few parameters", file=err)
            return 1
        return 0
    try:
        text, code = _command_line_rpc(config, inp, err)
    except CLIError as exc:
        text, code = f"error: {exc}", 1
    if text:
        print(text, file=out if code == 0 else err)
    return code


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
