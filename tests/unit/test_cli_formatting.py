"""Docker 0.9 client output helpers.

Expected strings were produced by Go itself (text/tabwriter with Docker's NewWriter(out, 20, 1, 3, ' ', 0),
fmt's %.4g, Docker 0.9's HumanSize/HumanDuration and time.Time.String) and checked by hand.
"""

import io
import time

import pytest

from lxc_docker.cli.formatting import (
    TabWriter,
    format_event_time,
    go_format_g,
    human_size,
    parse_time,
    trunc_id,
)
from lxc_docker.timeutil import human_duration


def tab(*chunks: str) -> str:
    w = TabWriter()
    for chunk in chunks:
        w.write(chunk)
    return w.flush()


# -- TabWriter -----------------------------------------------------------------------------------------


def test_docker_images_table():
    out = tab(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tVIRTUAL SIZE\n",
        "ubuntu\t12.04\t8dbd9e392a96\t8 months ago\t131.5 MB\n",
        "SvenDowideit/testimage\tversion3\tf5283438590d\t16 seconds ago\t335.7 MB\n",
    )
    assert out == (
        "REPOSITORY               TAG                 IMAGE ID            CREATED             VIRTUAL SIZE\n"
        "ubuntu                   12.04               8dbd9e392a96        8 months ago        131.5 MB\n"
        "SvenDowideit/testimage   version3            f5283438590d        16 seconds ago      335.7 MB\n"
    )


def test_minimum_width_is_twenty_and_padding_three():
    assert tab("a\tb\n") == "a" + " " * 19 + "b\n"
    assert tab("x" * 17 + "\tb\n") == "x" * 17 + "   b\n"
    assert tab("x" * 18 + "\tb\n") == "x" * 18 + "   b\n"


def test_docker_ps_header_keeps_empty_ports_column():
    out = tab(
        "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n",
        "4c01db0b339c\tubuntu:12.04\tbash\t17 seconds ago\tUp 16 seconds\t\twebapp\n",
    )
    assert out == (
        "CONTAINER ID        IMAGE               COMMAND             CREATED             STATUS"
        "              PORTS               NAMES\n"
        "4c01db0b339c        ubuntu:12.04        bash                17 seconds ago      Up 16 seconds"
        "                           webapp\n"
    )


def test_column_blocks_follow_consecutive_lines():
    # The second column of line 2 is its last cell, so it neither widens nor is padded; line 3 starts a
    # new block for columns 2 and 3.
    assert tab("a\tb\tc\n", "aa\tbbbbbbbbbbbbbbbbbbbbbbbbb\n", "aaa\tb\tc\td\n") == (
        "a                   b                   c\n"
        "aa                  bbbbbbbbbbbbbbbbbbbbbbbbb\n"
        "aaa                 b                   c                   d\n"
    )


def test_line_without_tabs_ends_a_block():
    assert tab("x" * 27 + "\tb\n", "no tabs here\n", "a\tb\n") == (
        "x" * 27 + "   b\nno tabs here\na                   b\n"
    )


def test_form_feed_ends_a_block_and_a_line():
    assert tab("x" * 27 + "\tb\f", "a\tb\n") == "x" * 27 + "   b\na                   b\n"


def test_trailing_tab_pads_and_empty_last_cell():
    assert tab("a\t\n", "bb\tc\n") == "a" + " " * 19 + "\nbb" + " " * 18 + "c\n"


def test_unterminated_last_line():
    assert tab("a\tb\tc") == "a" + " " * 19 + "b" + " " * 19 + "c"
    # An empty trailing cell of an unterminated line does not exist for Go.
    assert tab("a\tb\t") == "a" + " " * 19 + "b"


def test_empty_cells_are_padded():
    assert tab("\t\tx\n", "a\t\ty\n") == " " * 40 + "x\na" + " " * 39 + "y\n"


def test_width_counts_characters_not_bytes():
    assert tab("héllo wörld ünïcode ok\tb\n", "a\tb\n") == (
        "héllo wörld ünïcode ok   b\na                        b\n"
    )


def test_vertical_tab_is_a_cell_separator():
    assert tab("a\vb\tc\n", "aa\vbb\tcc\n") == (
        "a                   b                   c\naa                  bb                  cc\n"
    )


def test_cells_may_span_writes():
    assert tab("RE", "PO\tT", "AG\n", "x\ty", "\n") == "REPO                TAG\nx                   y\n"


def test_empty_and_plain_input():
    assert tab() == ""
    assert tab("hello\nworld\n") == "hello\nworld\n"
    assert tab("\n\n") == "\n\n"


def test_flush_writes_to_stream_and_resets():
    out = io.StringIO()
    w = TabWriter(out)
    w.write("ID\tNAME\n")
    first = w.flush()
    w.write("x\n")
    w.flush()
    assert first == "ID                  NAME\n"
    assert out.getvalue() == "ID                  NAME\nx\n"


def test_custom_parameters_and_tab_padding():
    w = TabWriter(minwidth=0, padding=1)
    w.write("a\tb\nccc\td\n")
    assert w.flush() == "a   b\nccc d\n"
    w = TabWriter(minwidth=8, tabwidth=8, padding=1, padchar="\t")
    w.write("a\tb\n" + "x" * 9 + "\tc\n")
    assert w.flush() == "a\t\tb\n" + "x" * 9 + "\tc\n"


# -- human_size (%.4g) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size,expected",
    [
        (0, "0 B"),
        (1, "1 B"),
        (999, "999 B"),
        (1000, "1 kB"),
        (1024, "1.024 kB"),
        (12290, "12.29 kB"),
        (24650, "24.65 kB"),
        (999949, "999.9 kB"),
        (999950, "1000 kB"),
        (999999, "1000 kB"),
        (1048576, "1.049 MB"),
        (131500000, "131.5 MB"),
        (335700000, "335.7 MB"),
        (1089000000, "1.089 GB"),
        (3420000000, "3.42 GB"),
        (10**18, "1 EB"),
        (2**63 - 1, "9.223 EB"),
        (-5, "-5 B"),
    ],
)
def test_human_size(size, expected):
    assert human_size(size) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        (0, "0"),
        (1, "1"),
        (1.5e-05, "1.5e-05"),
        (0.0001, "0.0001"),
        (0.00012345, "0.0001234"),
        (123456, "1.235e+05"),
        (100000, "1e+05"),
        (12345.5, "1.235e+04"),
        (9999.5, "1e+04"),
        (999.95, "1000"),
        (999.949, "999.9"),
        (1.0625, "1.062"),
        (1.00005, "1"),
        (1e21, "1e+21"),
        (-2.5, "-2.5"),
        (131.5, "131.5"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_go_format_g(value, expected):
    assert go_format_g(value, 4) == expected


# -- human_duration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds,expected",
    [
        (-5, "Less than a second"),
        (0, "Less than a second"),
        (0.999, "Less than a second"),
        (1, "1 seconds"),
        (59.9, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (7199, "About an hour"),
        (7200, "2 hours"),
        (19 * 3600 + 59, "19 hours"),
        (47 * 3600 + 3599, "47 hours"),
        (48 * 3600, "2 days"),
        (14 * 86400 - 1, "13 days"),
        (14 * 86400, "2 weeks"),
        (90 * 86400 - 1, "12 weeks"),
        (90 * 86400, "3 months"),
        (8 * 30 * 86400, "8 months"),
        (730 * 86400 - 1, "24 months"),
        (730 * 86400, "2.000000 years"),
        (800 * 86400, "2.191781 years"),
    ],
)
def test_human_duration(seconds, expected):
    assert human_duration(seconds) == expected


def test_trunc_id():
    full = "8dbd9e392a964056420e5d58ca5cc376ef18e2de93b5cc90e868a1bbc8318c1c"
    assert trunc_id(full) == "8dbd9e392a96"
    assert trunc_id("abc") == "abc"
    assert trunc_id("") == ""


# -- event times ---------------------------------------------------------------------------------------


@pytest.fixture
def local_zone(monkeypatch):
    """Run a test in a named local time zone, restoring the process's zone afterwards."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_format_event_time_in_summer_and_winter(local_zone):
    local_zone("Europe/Berlin")
    assert format_event_time(1378216166) == "2013-09-03 15:49:26 +0200 CEST"
    assert format_event_time(1378216169.9) == "2013-09-03 15:49:29 +0200 CEST"
    assert format_event_time(1700000000) == "2023-11-14 23:13:20 +0100 CET"


def test_format_event_time_other_zones(local_zone):
    local_zone("UTC")
    assert format_event_time(0) == "1970-01-01 00:00:00 +0000 UTC"
    local_zone("America/St_Johns")
    assert format_event_time(1378216169) == "2013-09-03 11:19:29 -0230 NDT"
    local_zone("Asia/Kolkata")
    assert format_event_time(1378216169) == "2013-09-03 19:19:29 +0530 IST"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1378216169", 1378216169.0),
        ("0", 0.0),
        ("1378216169.5", 1378216169.5),
        ("2013-09-03 15:49:29 +0200 CEST", 1378216169.0),
        ("2013-09-03 15:49:29 +0200", 1378216169.0),
        ("2013-09-03 13:49:29 UTC", 1378216169.0),
        ("2013-09-03T15:49:29Z", 1378223369.0),
        ("2013-09-03t15:49:29z", 1378223369.0),
        ("2013-09-03T15:49:29+02:00", 1378216169.0),
        ("2013-09-03T10:19:29-0330", 1378216169.0),
        ("2013-09-03T15:49:29.123+02:00", 1378216169.123),
        ("2013-09-03T17:49:29+04", 1378216169.0),
        ("  1378216169 ", 1378216169.0),
    ],
)
def test_parse_time_absolute(text, expected):
    assert parse_time(text) == pytest.approx(expected, abs=1e-6)


def test_parse_time_without_zone_is_local(local_zone):
    local_zone("Europe/Berlin")
    assert parse_time("2013-09-03") == 1378159200.0
    assert parse_time("2013-09-03 15:49") == 1378216140.0
    assert parse_time("2013-09-03 15:49:29") == 1378216169.0
    assert parse_time("2013-09-03T15:49:29") == 1378216169.0
    # Winter dates use the winter offset (+0100), not today's.
    assert parse_time("2013-12-03 15:49:29") == 1386082169.0


def test_parse_time_round_trips_event_format(local_zone):
    local_zone("America/St_Johns")
    assert parse_time(format_event_time(1378216169)) == 1378216169.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "-5",
        "1e9",
        "2013-9-3",
        "2013/09/03",
        "2013-13-03",
        "2013-02-30",
        "2013-09-03 25:00",
        "2013-09-03 15:49:61",
        "2013-09-03 15",
        "2013-09-03 15:49:29 CEST",
        "2013-09-03 15:49:29 +0260",
        "2013-09-03 15:49:29 +02000",
        "2013-09-03 15:49:29 +0200 CE5T",
        "2013-09-03T15:49:29.Z",
        "2013-09-03X15:49",
    ],
)
def test_parse_time_rejects(text):
    with pytest.raises(ValueError, match="cannot parse time"):
        parse_time(text)
