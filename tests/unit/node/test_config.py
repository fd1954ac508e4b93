"""bitcoind-style option parsing: precedence, sections, negation, chains, includes, datadir."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from pyrite.node.cli import CLI_OPTIONS
from pyrite.node.config import (
    NODE_OPTIONS,
    Config,
    ConfigError,
    OptionSpec,
    atoi,
    interpret_bool,
)


def load(
    datadir: Path,
    *args: str,
    conf: str | None = None,
    strict: bool = False,
    options: Mapping[str, OptionSpec] = NODE_OPTIONS,
) -> Config:
    if conf is not None:
        (datadir / "bitcoin.conf").write_text(conf)
    return Config.load([f"-datadir={datadir}", *args], strict=strict, options=options)


def test_command_line_forms(tmp_path: Path) -> None:
    c = load(tmp_path, "-debug", "--printtoconsole=0", "-nolisten", "-nodnsseed=0", "-par=3")
    assert c.get_str("debug") == ""
    assert c.get_bool("debug") is True
    assert c.get_int("debug") == 0
    assert c.get_bool("printtoconsole", True) is False
    assert c.get_bool("listen", True) is False
    assert c.is_negated("listen")
    assert c.get_str("listen") == "0"
    assert c.get_bool("dnsseed", False) is True  # double negative
    assert c.get_int("par") == 3
    assert c.get_int("-par") == 3  # a leading dash is accepted by getters
    assert not c.is_set("txindex")
    assert c.get_int("txindex", 7) == 7
    assert c.get_str("txindex") is None


def test_last_value_wins_on_command_line(tmp_path: Path) -> None:
    c = load(tmp_path, "-port=1", "-port=2", "-uacomment=a", "-uacomment=b")
    assert c.get_int("port") == 2
    assert c.get_str("uacomment") == "b"


def test_command_line_beats_config_and_first_value_wins_in_file(tmp_path: Path) -> None:
    conf = "dbcache=100\ndbcache=200\nmaxconnections=5\n"
    c = load(tmp_path, "-maxconnections=9", conf=conf)
    assert c.get_int("dbcache") == 100
    assert c.get_int("maxconnections") == 9


def test_comments_whitespace_and_negation_in_file(tmp_path: Path) -> None:
    conf = "  # a comment\n\n  txindex = 1   # trailing\nnolisten=1\n\tdebug=net\r\nnodnsseed=0\n"
    c = load(tmp_path, conf=conf)
    assert c.get_str("txindex") == "1"
    assert c.is_negated("listen")
    assert c.get_all("debug") == ["net"]
    assert c.get_bool("dnsseed") is True


def test_sections_and_prefixed_keys(tmp_path: Path) -> None:
    conf = (
        "regtest=1\nrpcuser=top\nserver=0\n"
        "[regtest]\nserver=1\nrpcport=12345\n"
        "[main]\nrpcuser=mainonly\n"
        "[test]\nserver=5\n"
    )
    c = load(tmp_path, conf=conf)
    assert c.chain_name == "regtest"
    assert c.get_bool("server") is True  # [regtest] beats the top level
    assert c.get_int("rpcport") == 12345
    assert c.get_str("rpcuser") == "top"  # other sections do not apply
    c = load(tmp_path, "-regtest", conf="regtest.rpcport=999\ntest.rpcport=1\n")
    assert c.get_int("rpcport") == 999


def test_network_only_options_ignore_top_level_off_main(tmp_path: Path) -> None:
    conf = "port=1111\nrpcport=2222\nuacomment=top\n"
    regtest = load(tmp_path, "-regtest", conf=conf)
    assert not regtest.is_set("port")
    assert not regtest.is_set("rpcport")
    assert regtest.get_str("uacomment") == "top"
    assert any("-port only applied on regtest network" in w for w in regtest.warnings)
    main = load(tmp_path, conf=conf)
    assert main.get_int("port") == 1111
    assert main.warnings == []


def test_multi_valued_options_collect_every_source(tmp_path: Path) -> None:
    conf = "debug=net\nrpcauth=a:b$c\n[regtest]\ndebug=mempool\nrpcauth=x:y$z\naddnode=1.2.3.4\n"
    c = load(tmp_path, "-regtest", "-debug=rpc", "-debug=http", "-addnode=5.6.7.8", conf=conf)
    assert c.get_all("debug") == ["rpc", "http", "mempool", "net"]
    assert c.get_all("rpcauth") == ["x:y$z", "a:b$c"]
    assert c.get_all("addnode") == ["5.6.7.8", "1.2.3.4"]
    assert c.get_all("connect") == []
    assert load(tmp_path, "-regtest", "-nodebug", conf=conf).get_all("debug") == []
    # A negation followed by a value drops earlier command-line values only.
    revived = load(tmp_path, "-regtest", "-debug=a", "-nodebug", "-debug=b", conf=conf)
    assert revived.get_all("debug") == ["b", "mempool", "net"]


def test_compat_command_line_is_accepted_without_unknowns(tmp_path: Path) -> None:
    (tmp_path / "bitcoin.conf").write_text(
        "regtest=1\n[regtest]\nport=18444\nrpcport=18443\nserver=1\nconnect=0\nbind=127.0.0.1\n"
        "discover=0\ndnsseed=0\nfixedseeds=0\nlistenonion=0\nupnp=0\nnatpmp=0\npeertimeout=99\n"
        "printtoconsole=0\nshrinkdebugfile=0\nrpcservertimeout=99\nrpcdoccheck=1\n"
        "fallbackfee=0.0002\nkeypool=1\nunsafesqlitesync=1\ndeprecatedrpc=create_bdb\n"
    )
    datadir = tmp_path / "dåtå dir"
    datadir.mkdir()
    (datadir / "bitcoin.conf").write_text((tmp_path / "bitcoin.conf").read_text())
    argv = [
        f"-datadir={datadir}",
        "-logtimemicros",
        "-debug",
        "-debugexclude=libevent",
        "-uacomment=testnode0",
        "-disablewallet",
        "-logthreadnames",
        "-logsourcelocations",
        "-loglevel=trace",
        "-nologratelimit",
        "-v2transport=0",
        "-bind=127.0.0.1:12345",
        "-mocktime=1700000000",
    ]
    c = Config.load(argv)
    assert c.unknown == []
    assert c.warnings == []
    assert c.chain_name == "regtest"
    assert c.net_datadir == datadir / "regtest"
    assert c.get_all("bind") == ["127.0.0.1:12345", "127.0.0.1"]
    assert c.get_str("connect") == "0"
    assert c.get_int("rpcport") == 18443
    assert c.get_int("mocktime") == 1700000000
    assert c.get_bool("v2transport", True) is False
    assert c.get_bool("logratelimit", True) is False
    assert c.get_all("deprecatedrpc") == ["create_bdb"]


def test_unknown_options_are_recorded_or_rejected(tmp_path: Path) -> None:
    conf = "notanoption=1\n[regtest]\nalsonot=2\n"
    c = load(tmp_path, "-regtest", "-frobnicate=3", "-regtest.port=1", conf=conf)
    assert c.unknown == ["-frobnicate", "-regtest.port", "notanoption", "regtest.alsonot"]
    assert "Ignoring unknown configuration value notanoption" in c.warnings
    assert c.get_str("frobnicate") == "3"
    assert not c.is_set("port")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "-frobnicate", strict=True)
    assert (
        info.value.message == "Error parsing command line arguments: Invalid parameter -frobnicate"
    )


def test_ignored_options_lists_known_but_unsupported(tmp_path: Path) -> None:
    c = load(tmp_path, "-zmqpubrawblock=tcp://127.0.0.1:1", "-txindex", conf="blockfilterindex=1\n")
    assert c.ignored_options() == ["blockfilterindex", "zmqpubrawblock"]
    assert c.ignored_options(supported={"zmqpubrawblock", "blockfilterindex"}) == [
        "datadir",
        "txindex",
    ]
    assert NODE_OPTIONS["rpcport"].network_only


def test_positional_arguments_stop_option_parsing(tmp_path: Path) -> None:
    c = load(tmp_path, "-named", "getblock", "-1", "verbosity=2", options=CLI_OPTIONS)
    assert c.positional == ["getblock", "-1", "verbosity=2"]
    assert c.get_bool("named") is True


# -- chain selection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "chain", "subdir", "rpc_port"),
    [
        ([], "main", "", 8332),
        (["-testnet"], "test", "testnet3", 18332),
        (["-testnet4"], "testnet4", "testnet4", 48332),
        (["-signet"], "signet", "signet", 38332),
        (["-regtest"], "regtest", "regtest", 18443),
        (["-chain=regtest"], "regtest", "regtest", 18443),
        (["-chain=test"], "test", "testnet3", 18332),
        (["-regtest=0"], "main", "", 8332),
    ],
)
def test_chain_selection(
    tmp_path: Path, flag: list[str], chain: str, subdir: str, rpc_port: int
) -> None:
    c = load(tmp_path, *flag)
    assert c.chain_name == chain
    assert c.chain.rpc_port == rpc_port
    assert c.datadir == tmp_path
    assert c.net_datadir == (tmp_path / subdir if subdir else tmp_path)


def test_chain_from_config_top_level_only(tmp_path: Path) -> None:
    assert load(tmp_path, conf="regtest=1\n").chain_name == "regtest"
    assert load(tmp_path, conf="[regtest]\nregtest=1\n").chain_name == "main"
    assert load(tmp_path, conf="chain=signet\n").chain_name == "signet"
    # A negated chain flag on the command line does not override the file (as in Core).
    assert load(tmp_path, "-noregtest", conf="regtest=1\n").chain_name == "regtest"


@pytest.mark.parametrize(
    "args",
    [["-regtest", "-testnet"], ["-chain=main", "-signet"], ["-testnet4", "-testnet"]],
)
def test_more_than_one_chain_is_an_error(tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, *args)
    assert info.value.message == (
        "Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. "
        "Can use at most one."
    )


def test_chain_conflict_between_file_and_command_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid combination"):
        load(tmp_path, "-testnet", conf="regtest=1\n")


def test_unknown_chain(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^Unknown chain foo\.$"):
        load(tmp_path, "-chain=foo")


# -- files and directories ------------------------------------------------------------------


def test_includeconf(tmp_path: Path) -> None:
    (tmp_path / "extra.conf").write_text("uacomment=included\n[regtest]\nrpcport=4444\n")
    (tmp_path / "net.conf").write_text("dbcache=55\nincludeconf=nested.conf\n")
    conf = "regtest=1\nincludeconf=extra.conf\n[regtest]\nincludeconf=net.conf\n"
    c = load(tmp_path, conf=conf)
    assert c.get_str("uacomment") == "included"
    assert c.get_int("rpcport") == 4444
    assert c.get_int("dbcache") == 55
    assert any("cannot be used from included files" in w for w in c.warnings)
    assert load(tmp_path, "-noincludeconf", conf=conf).get_str("uacomment") is None


def test_includeconf_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "-includeconf=x.conf")
    assert (
        info.value.detail == '-includeconf cannot be used from commandline; -includeconf="x.conf"'
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path, conf="includeconf=missing.conf\n")
    assert info.value.message == (
        "Error reading configuration file: Failed to include configuration file missing.conf"
    )


def test_config_file_errors(tmp_path: Path) -> None:
    cases = {
        "conf=other.conf\n": "conf cannot be set in the configuration file",
        "-txindex=1\n": "parse error on line 1: -txindex=1, options in configuration file",
        "x=1\nnotxindex\n": "parse error on line 2: notxindex, if you intended to specify a "
        "negated option, use notxindex=1 instead",
        "rpcpassword=ab#cd\n": "using # in rpcpassword can be ambiguous",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError) as info:
            load(tmp_path, conf=text)
        assert info.value.kind == "config"
        assert info.value.message.startswith("Error reading configuration file: ")
        assert expected in info.value.detail


def test_conf_option(tmp_path: Path) -> None:
    (tmp_path / "bitcoin.conf").write_text("uacomment=default\n")
    (tmp_path / "alt.conf").write_text("uacomment=alt\n")
    assert load(tmp_path).get_str("uacomment") == "default"
    assert load(tmp_path, "-conf=alt.conf").get_str("uacomment") == "alt"
    assert load(tmp_path, f"-conf={tmp_path / 'alt.conf'}").config_path == tmp_path / "alt.conf"
    assert load(tmp_path, "-noconf").get_str("uacomment") is None
    with pytest.raises(ConfigError, match="could not be opened"):
        load(tmp_path, "-conf=nope.conf")
    (tmp_path / "bitcoin.conf").unlink()
    assert load(tmp_path).get_str("uacomment") is None  # a missing default file is fine


def test_missing_datadir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as info:
        Config.load([f"-datadir={missing}"])
    assert info.value.kind == "datadir"
    assert info.value.message == f'Specified data directory "{missing}" does not exist.'
    conf = tmp_path / "bitcoin.conf"
    conf.write_text(f"datadir={missing}\n")
    with pytest.raises(ConfigError, match="specified data directory") as info:
        Config.load([f"-conf={conf}"], home=str(tmp_path))
    assert info.value.kind == "config"
    conf.write_text(f"datadir={tmp_path}\n")  # a datadir set in the file is honoured
    assert Config.load([f"-conf={conf}"], home=str(tmp_path)).datadir == tmp_path


def test_datadir_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    c = Config.load(["-datadir=sub/", "-regtest"], cwd=tmp_path)
    assert c.datadir == tmp_path / "sub"
    assert c.net_datadir == tmp_path / "sub" / "regtest"
    assert c.abs_path_for_config_val(".cookie") == tmp_path / "sub" / "regtest" / ".cookie"
    assert c.abs_path_for_config_val("/abs/x") == Path("/abs/x")
    assert c.abs_path_for_config_val("x", net_specific=False) == tmp_path / "sub" / "x"
    home = Config.load(["-regtest"], home=str(tmp_path), read_config=False)
    assert home.datadir == tmp_path / ".bitcoin"


def test_forced_and_soft_settings(tmp_path: Path) -> None:
    c = load(tmp_path, "-rpcpassword=cmd", "-listen=1")
    c.force_set("rpcpassword", "forced")
    assert c.get_str("rpcpassword") == "forced"
    assert c.soft_set("listen", "0") is False
    assert c.soft_set("discover", "0") is True
    assert c.get_bool("discover", True) is False


def test_log_lines_mask_secrets(tmp_path: Path) -> None:
    c = load(tmp_path, "-rpcpassword=hunter2", "-nolisten", conf="[regtest]\nrpcauth=a:b$c\n")
    lines = c.log_lines()
    assert "Config file arg: [regtest] rpcauth=****" in lines
    assert "Command-line arg: rpcpassword=****" in lines
    assert "Command-line arg: listen=false" in lines
    assert not any("hunter2" in line for line in lines)


def test_unrecognized_section_warning(tmp_path: Path) -> None:
    c = load(tmp_path, conf="[mainnet]\nx=1\n")
    assert any("Section [mainnet] is not recognized." in w for w in c.warnings)


def test_value_helpers() -> None:
    assert [atoi(s) for s in ("12abc", "abc", "", " -5", "+7", "+-1", "9" * 30)] == [
        12,
        0,
        0,
        -5,
        7,
        0,
        2**63 - 1,
    ]
    assert interpret_bool("") is True
    assert interpret_bool("0") is False
    assert interpret_bool("true") is False  # as in Core
    assert interpret_bool("2") is True


def test_auth_cookie_path(tmp_path: Path) -> None:
    assert load(tmp_path, "-regtest").auth_cookie_path() == tmp_path / "regtest" / ".cookie"
    assert load(tmp_path).auth_cookie_path() == tmp_path / ".cookie"
    custom = load(tmp_path, "-testnet", "-rpccookiefile=auth/c")
    assert custom.auth_cookie_path() == tmp_path / "testnet3" / "auth" / "c"
    assert load(tmp_path, "-rpccookiefile=/x/y").auth_cookie_path() == Path("/x/y")
    assert load(tmp_path, "-norpccookiefile").auth_cookie_path() is None


@pytest.mark.parametrize(
    ("par", "cores", "processes"),
    [("0", 2, 2), ("0", 1, 1), ("-1", 4, 3), ("-5", 2, 1), ("1", 8, 1), ("3", 2, 3), ("40", 2, 16)],
)
def test_par_counts_processes_like_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, par: str, cores: int, processes: int
) -> None:
    """-par: 0 means every usable core, -N leaves N free, at most 16 (Core's 15 script
    threads and the main one); the cores counted are those this process may run on."""
    from pyrite.node import main

    monkeypatch.setattr(main, "_usable_cores", lambda: cores)
    checker = main._script_checker(load(tmp_path, f"-par={par}"))
    try:
        assert checker.processes == processes
    finally:
        checker.close()
