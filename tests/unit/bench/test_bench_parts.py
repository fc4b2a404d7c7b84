"""The bench's pure parts: nothing here starts a server or measures time."""

from __future__ import annotations

import datetime

import pytest

from bench.isolation import NotLoopback, require_loopback
from bench.pacing import DEFAULT_POLL, MAX_RETRY_AFTER, poll_delay, retry_after_seconds
from bench.procstat import ProcStat, parse_stat, parse_vmrss_kib, tree, tree_ticks
from bench.table import Phase, Row, format_table, is_client_bound, percentile

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

# proc(5) field 2 may hold spaces and parentheses; utime..cstime are fields 14..17.
STAT = "4242 (we (ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 4 0 1000 2000000 500"


def test_parse_stat_splits_at_the_last_parenthesis() -> None:
    assert parse_stat(STAT) == ProcStat(pid=4242, ppid=17, ticks=250 + 30 + 7 + 3)


def test_the_tree_sums_every_descendant_and_nothing_else() -> None:
    stats = {
        1: ProcStat(1, 0, 1000),
        10: ProcStat(10, 1, 5),  # the server
        11: ProcStat(11, 10, 7),  # a worker
        12: ProcStat(12, 11, 11),  # the worker's child
        13: ProcStat(13, 1, 1000),  # a sibling of the server
    }
    assert tree(10, stats) == [10, 11, 12]
    assert tree_ticks(10, stats) == 23
    assert tree(99, stats) == []


def test_vmrss_is_read_in_kib_and_absent_for_kernel_threads() -> None:
    assert parse_vmrss_kib("Name:\tpython\nVmPeak:\t 9000 kB\nVmRSS:\t   51234 kB\n") == 51234
    assert parse_vmrss_kib("Name:\tkthreadd\nState:\tS (sleeping)\n") is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("Fri, 02 Jan 2026 03:04:07 GMT", 2.0),
        ("Fri, 02 Jan 2026 03:04:00 GMT", 0.0),  # in the past: poll now
        (None, None),
        ("", None),
        ("soon", None),
        ("-1", None),
        ("1.5", None),  # delay-seconds is an integer
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_poll_delay_defaults_and_caps() -> None:
    assert poll_delay(None, NOW) == DEFAULT_POLL == 0.1
    assert poll_delay("2", NOW) == 2.0
    assert poll_delay("86400", NOW) == MAX_RETRY_AFTER


def test_client_bound_above_eight_tenths_of_a_core() -> None:
    assert is_client_bound(8.1, 10.0)
    assert not is_client_bound(8.0, 10.0)
    assert not is_client_bound(1.0, 0.0)


@pytest.mark.parametrize(
    "address",
    ["https://localhost:8443/acme/acme/directory", "https://127.0.0.1/1.0/sign", "https://[::1]:9/dir",
     "postgresql://postgres@127.0.0.1:5432/bench", "127.0.0.1:8053", "[::1]:8053", "127.9.9.9:1"],
)  # fmt: skip
def test_loopback_addresses_pass(address: str) -> None:
    assert require_loopback(address) == address


@pytest.mark.parametrize(
    "address",
    ["https://example.com/dir", "https://localhost.example.com/dir", "https://10.0.0.1/dir",
     "postgresql://postgres@db.internal:5432/bench", "192.168.1.1:53", "https://[2001:db8::1]/dir", ""],
)  # fmt: skip
def test_anything_else_is_refused(address: str) -> None:
    with pytest.raises(NotLoopback):
        require_loopback(address)


def _phase(done: int, seconds: float, client_cpu: float, server_cpu: float) -> Phase:
    latencies = [0.1 * (i + 1) for i in range(done)]
    return Phase(done, 0, seconds, done * 6, latencies, server_cpu, client_cpu)


def test_table_has_a_row_per_server_and_ratio_rows_for_acmeca() -> None:
    rows = [
        Row("acmeca sqlite w1", acme=_phase(100, 10.0, 2.0, 5.0), sign=_phase(100, 1.0, 0.9, 0.5)),
        Row("pebble", acme=_phase(100, 5.0, 1.0, 2.5)),
        Row("step-ca", acme=_phase(100, 4.0, 1.0, 1.0), sign=_phase(100, 2.0, 0.5, 0.4)),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split()[:3] == ["server", "orders/s", "p50"]
    assert [line.split()[0] for line in lines[1:]] == ["acmeca", "pebble", "step-ca", "acmeca", "acmeca"]
    acmeca = lines[1].split()
    assert acmeca[3:5] == ["10.0", "5100"]  # orders/s, then p50 ms of 0.1 s .. 10 s
    assert "100*" in lines[1]  # the sign phase used 0.9 of a core: client-bound
    over_pebble = lines[4].split()
    assert over_pebble[5] == "0.50"  # orders/s ratio: 10 / 20
    over_step = lines[5].split()
    assert over_step[5] == "0.40"
    assert "(2.00)" in lines[5]  # signs/s ratio involving a client-bound phase: printed, not counted


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(100)], 0.99) == 98.0


def test_the_lint_axis_runs_every_acmeca_row_without_lint_and_one_with_it() -> None:
    from bench.acme_load import specs_for

    specs = specs_for(["acmeca-sqlite", "acmeca-sqlite-wN", "acmeca-pg", "pebble"], 2, lint_axis=True)
    labels = [spec.label for spec in specs]
    assert labels == [
        "acmeca sqlite w1 lint=off", "acmeca sqlite w2 lint=off", "acmeca pg w1 lint=off", "pebble",
        "acmeca sqlite w1 lint=enforce",
    ]
    assert [spec.label for spec in specs_for(["acmeca-sqlite"], 2, lint_axis=False)] == ["acmeca sqlite w1"]


@pytest.mark.parametrize("count", ["0", "-1", "10001"])
def test_issuance_checks_refuses_a_count_out_of_range(count: str, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from bench import issuance_checks

    monkeypatch.setattr("sys.argv", ["issuance_checks", "-n", count])
    with pytest.raises(SystemExit) as exited:
        issuance_checks.main()
    assert exited.value.code == 2
    assert "-n must be from 1 to 10,000" in capsys.readouterr().err
