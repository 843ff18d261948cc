"""Hostile input: every file ends quickly in a diagnostic, never a hang, a crash or a traceback.

Each hostile file goes through the real console entry point (`netc.cli.app.main`, in process)
and through the Python API (`netc.load`). Both must finish within TIME_LIMIT seconds; the CLI
must exit 1 with a compiler-style `file:line:col: error:` line (or `netc: error: FILE: ...` for
file-level problems: unreadable, binary, not UTF-8) and a `hint:` line; the API must raise
NetcError, not RecursionError, MemoryError or anything else.

Every call runs under a SIGALRM time box slightly longer than TIME_LIMIT, so a regression that
makes netc hang fails the test in seconds instead of stalling CI.

Bugs this file found are kept as regression tests (the section "regressions").

The property tests at the end (Hypothesis, derandomized) feed netc token soups built from the
language's vocabulary, randomly mutated real files (the Caffe zoo, read from `$NETC_ZOO` or
`../shared/zoo`, and a netc template example), networks built from the Caffe schema, and random
expressions: `netc.load` returns a Graph or raises NetcError with well-formed spans, and the CLI
exits 0 or 1, never 70, never with a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import random
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import caffe_networks, inplace_chains, nested_templates

import netc
from netc.cli.app import main
from netc.diagnostics import NetcError, Source
from netc.layers.base import all_types
from netc.proto.caffe_schema import CAFFE
from netc.proto.schema import Field

TIME_LIMIT = 2.0  # seconds, for every hostile input
TIME_BOX = TIME_LIMIT + 0.5  # the alarm that interrupts a call that runs past the limit
FUZZ_BOX = 10.0  # per generated example: no time limit is asserted, but no hang either

H = 'input: "data" input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\n'

POSITIONED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: \S", re.MULTILINE)
HINT = re.compile(r"^\s+hint: \S", re.MULTILINE)


# ---- running netc under a time box ----------------------------------------------------------


class Overtime(BaseException):
    """Raised by the alarm. A BaseException, so netc's `except Exception` cannot swallow it."""


@contextlib.contextmanager
def time_box(seconds: float = TIME_BOX) -> Iterator[None]:
    """Interrupt the body after `seconds` (Unix main thread only; elsewhere no box)."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Overtime(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Run:
    code: int | None  # None: interrupted by the time box
    out: str
    err: str
    seconds: float

    def describe(self) -> str:
        return (
            f"exit {self.code} after {self.seconds:.2f} s\n"
            f"stdout:\n{self.out[:2000]}\nstderr:\n{self.err[:2000]}"
        )


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path, box: float = TIME_BOX) -> Run:
    """`netc ARGS...` through the console entry point, in process, stdout/stderr captured."""
    capsys.readouterr()  # drop anything printed before
    saved = sys.argv
    sys.argv = ["netc", *map(str, args)]
    code: int | None = None
    start = time.perf_counter()
    try:
        with time_box(box):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Overtime:
        code = None
    finally:
        seconds = time.perf_counter() - start
        sys.argv = saved
    out, err = capsys.readouterr()
    return Run(code, out, err, seconds)


def load_boxed(spec: str | Path | Source) -> tuple[object, float]:
    """`netc.load(spec)` under the time box: (the Graph or the exception raised, seconds)."""
    start = time.perf_counter()
    result: object
    try:
        with time_box():
            result = netc.load(spec)
    except BaseException as exc:  # reported by the caller: NetcError is the only good exception
        result = exc
    return result, time.perf_counter() - start


def assert_rejected(run: Run, *, positioned: bool, where: Path, message: str | None) -> None:
    """Exit 1, in time, a diagnostic with a position (or naming the file) and a hint."""
    assert run.code is not None, f"netc did not finish within {TIME_BOX} s\n{run.describe()}"
    assert run.seconds < TIME_LIMIT, f"too slow: {run.describe()}"
    assert "Traceback" not in run.err + run.out, run.describe()
    assert "internal error" not in run.err, run.describe()
    assert run.code == 1, run.describe()
    if positioned:
        located = POSITIONED.search(run.err)
        assert located, f"no file:line:col: error: line\n{run.describe()}"
        assert int(located["line"]) >= 1 and int(located["col"]) >= 1, run.describe()
        assert located["file"].startswith(str(where)), run.describe()
    else:
        assert re.search(rf"^netc: error: {re.escape(str(where))}", run.err, re.MULTILINE), (
            run.describe()
        )
    assert HINT.search(run.err), f"no hint: line\n{run.describe()}"
    if message is not None:
        assert re.search(message, run.err), f"expected /{message}/\n{run.describe()}"


def short_traceback(result: object) -> str:
    """An exception with its traceback, each line cut short (hostile input makes long messages)."""
    if not isinstance(result, BaseException):
        return repr(result)[:300]
    lines = traceback.format_exception(result)
    return "".join(line if len(line) < 300 else line[:300] + "...\n" for line in lines)


def assert_netc_error(result: object, seconds: float) -> NetcError:
    if isinstance(result, Overtime):
        pytest.fail(f"netc.load did not finish within {TIME_BOX} s")
    if not isinstance(result, NetcError):
        raise AssertionError(f"expected NetcError, got {short_traceback(result)}")
    assert seconds < TIME_LIMIT, f"netc.load took {seconds:.2f} s"
    assert result.diagnostics
    for d in result.diagnostics:
        assert d.message
        if d.span is not None:
            assert d.span.line >= 1 and d.span.column >= 1, d
    str(result)  # renders
    return result


@pytest.fixture(scope="module", autouse=True)
def warm_up() -> None:
    """Import the compiler and build the parser once, so time limits measure the work itself."""
    netc.load(H + 'layer { name: "r" type: "ReLU" }\n')


# ---- the hostile files ----------------------------------------------------------------------

Builder = Callable[[Path], Path]  # writes the case's files below a folder, returns what to run


@dataclass(frozen=True)
class TextFile:
    """One UTF-8 file, `main.net`; its text can also go to `netc.load` directly.

    `source` is the text, or a function that makes it (the large cases are made when run).
    """

    source: str | Callable[[], str]

    @property
    def text(self) -> str:
        return self.source if isinstance(self.source, str) else self.source()

    def __call__(self, folder: Path) -> Path:
        path = folder / "main.net"
        path.write_text(self.text, encoding="utf-8")
        return path


text_file = TextFile


def bytes_file(data: bytes, name: str = "main.net") -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def files(main_name: str, contents: dict[str, str]) -> Builder:
    """Several files (paths relative to the folder); runs `main_name`."""

    def build(folder: Path) -> Path:
        for name, text in contents.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return folder / main_name

    return build


def symlinked(link: str, target: str, importer: str) -> Builder:
    """proj/main.net imports `link`, a symbolic link in proj/ to `target` (relative to proj/)."""

    def build(folder: Path) -> Path:
        outside = folder / "outside"
        outside.mkdir()
        (outside / "lib.net").write_text("define t() { }\n", encoding="utf-8")
        proj = folder / "proj"
        proj.mkdir()
        (proj / link).symlink_to(target)
        (proj / "main.net").write_text(importer, encoding="utf-8")
        return proj / "main.net"

    return build


def import_cycle_through_symlink(folder: Path) -> Path:
    """a.net imports s/b.net, which imports s/up.net: a symbolic link back to a.net."""
    main_file = files("a.net", {"a.net": 'import "s/b.net"\n', "s/b.net": 'import "up.net"\n'})
    path = main_file(folder)
    (folder / "s" / "up.net").symlink_to("../a.net")
    return path


def import_binary(folder: Path) -> Path:
    (folder / "bin.net").write_bytes(GARBAGE)
    return text_file('import "bin.net"\n')(folder)


def the_folder(folder: Path) -> Path:
    return folder


def missing(folder: Path) -> Path:
    return folder / "no-such-file.net"


def nested(depth: int, inner: str = "1") -> str:
    return "(" * depth + inner + ")" * depth


def mb(n: float) -> int:
    return int(n * 1024 * 1024)


GARBAGE = random.Random(1234).randbytes(mb(0.05))
IMPORT_CHAIN = {f"f{i}.net": f'import "f{i + 1}.net"\n' for i in range(24)} | {
    "f24.net": "define t() { }\n"
}


@dataclass(frozen=True)
class Case:
    id: str
    build: Builder
    positioned: bool = True  # a file:line:col diagnostic (else a file-level `netc: error: FILE`)
    message: str | None = None  # a regular expression the diagnostic must match

    def __str__(self) -> str:  # the test id
        return self.id


CASES = [
    # --- recursion and expansion ---
    Case(
        "template_instantiates_itself",
        text_file('define t() { t "again" { } }\nt "first" { }\n'),
        message="deeper|itself",
    ),
    Case(
        "templates_instantiate_each_other",
        text_file('define a() { b "x" { } }\ndefine b() { a "y" { } }\na "top" { }\n'),
        message="deeper|itself",
    ),
    Case(
        "self_instance_with_a_layer",
        text_file(H + 'define t() { layer { type: "ReLU" } t "again" { } }\nt "first" { }\n'),
    ),
    Case(
        "repeat_a_billion",
        text_file(H + 'repeat i in 1..1000000000 { layer { type: "ReLU" } }\n'),
        message="limit",
    ),
    Case(
        "repeat_a_billion_empty",
        text_file("repeat i in 1..1000000000 { }\n"),
    ),
    Case(
        "repeat_negative_huge",
        text_file("repeat i in -1000000000000000000000..1 { }\n"),
    ),
    Case(
        "nested_repeats_huge_product",
        text_file(
            H + 'repeat i in 1..100000 { repeat j in 1..100000 { layer { type: "ReLU" } } }\n'
        ),
    ),
    Case(
        "nested_repeats_huge_product_no_layers",
        text_file("repeat i in 1..100000 { repeat j in 1..100000 { let x = i * j } }\n"),
    ),
    # --- sizes ---
    Case(
        "nested_braces_10mb",
        text_file(lambda: "a {" * (mb(10) // 3)),
        message="too large|deeper",
    ),
    Case(
        "nested_braces_under_the_size_limit",
        text_file(lambda: "a {" * (mb(3) // 3)),
        message="deeper than",
    ),
    Case("nested_brackets", text_file("let x = " + "[" * 100_000 + "]" * 100_000 + "\n")),
    Case(
        "angles_10000_deep",
        text_file(H + 'layer { type: "ReLU" ' + "a <" * 10_000 + ">" * 10_000 + " }\n"),
        message="deeper than",
    ),
    Case("empty_braces_10mb", text_file(lambda: "{}" * (mb(10) // 2)), message="too large"),
    Case("fields_10mb", text_file(lambda: "a: 1 " * (mb(10) // 5)), message="too large"),
    Case("layers_10mb", text_file(lambda: 'layer { type: "ReLU" }\n' * (mb(10) // 23))),
    Case(
        "one_line_10mb",
        text_file(lambda: "#" + "x" * mb(10)),
    ),
    # --- imports ---
    Case("import_absolute", text_file('import "/etc/passwd"\n'), message="absolute"),
    Case("import_parent", text_file('import "../../x"\n')),
    Case("import_sub_then_parent", text_file('import "sub/../../x"\n')),
    Case("import_backslash_parent", text_file('import "..\\\\..\\\\x"\n')),
    Case("import_windows_drive", text_file('import "C:\\\\Windows\\\\win.ini"\n')),
    Case("extends_absolute", text_file('extends "/etc/passwd"\n')),
    Case(
        "import_symlink_outside",
        symlinked("link.net", "../outside/lib.net", 'import "link.net"\n'),
        message="outside",
    ),
    Case(
        "import_through_symlinked_folder",
        symlinked("sublink", "../outside", 'import "sublink/lib.net"\n'),
        message="outside",
    ),
    Case(
        "import_symlink_to_etc_passwd",
        symlinked("passwd.net", "/etc/passwd", 'import "passwd.net"\n'),
    ),
    Case(
        "import_cycle",
        files("a.net", {"a.net": 'import "b.net"\n', "b.net": 'import "a.net"\n'}),
        message="cycle",
    ),
    Case("import_itself", files("a.net", {"a.net": 'import "a.net"\n'})),
    Case("import_cycle_through_symlink", import_cycle_through_symlink, message="outside"),
    Case("import_chain_too_deep", files("f0.net", IMPORT_CHAIN), message="deeper"),
    Case(
        "extends_cycle",
        files("a.net", {"a.net": 'extends "b.net"\n', "b.net": 'extends "a.net"\n'}),
    ),
    Case("extends_itself", files("a.net", {"a.net": 'extends "a.net"\n'})),
    Case("import_a_folder", files("a.net", {"a.net": 'import "sub"\n', "sub/x.net": ""})),
    Case("import_binary", import_binary),
    # --- expressions ---
    Case(
        "parentheses_10000_deep",
        text_file(f"let x = {nested(10_000)}\n"),
        message="deeper than",
    ),
    Case(
        "parentheses_in_interpolation",
        text_file(f'name: "${{{nested(10_000)}}}"\n'),
    ),
    Case("unary_minus_10000", text_file("let x = " + "-" * 10_000 + "1\n")),
    Case("not_10000", text_file("let x = " + "not " * 10_000 + "true\n")),
    Case("power_chain_10000", text_file("let x = " + "1 ** " * 10_000 + "1\n")),
    Case("index_chain_10000", text_file("let x = [1]" + "[0]" * 10_000 + "\n")),
    Case("huge_integer_power", text_file("let x = 2 ** 2 ** 2 ** 30\n"), message="too large"),
    Case("power_of_a_power", text_file("let x = 10 ** 10 ** 10\n"), message="too large"),
    Case("huge_float_power", text_file("let x = 10.0 ** 400\n")),
    Case("list_times_a_billion", text_file("let x = [1] * 10**9\n"), message="too long"),
    Case(
        "list_doubling",
        text_file("let a = [1]\n" + "let a = a + a\n" * 40),
        message="too long",
    ),
    Case("string_literal_1mb", text_file(lambda: f'name: "{"a" * mb(1)}"\n'), message="too long"),
    Case(
        "interpolation_of_huge_value",
        text_file('let x = 2 ** 255\nname: "${x * x}"\n'),
        message="too large",
    ),
    Case("division_by_zero", text_file("let x = 1 // 0\n")),
    # --- bytes ---
    Case("binary_garbage", bytes_file(GARBAGE), positioned=False),
    Case(
        "binary_with_nul_but_utf8",
        bytes_file(b"layer { \x00\x01\x02 }\n"),
        positioned=False,
    ),
    Case("control_characters", bytes_file(b"\x01\x02\x7f\x1b[31m layer { }\n")),
    Case(
        "latin1_not_utf8",
        bytes_file('layer { name: "café" type: "ReLU" }\n'.encode("latin-1")),
        positioned=False,
    ),
    Case(
        "utf16",
        bytes_file('name: "x"\n'.encode("utf-16")),
        positioned=False,
    ),
    Case("lone_surrogate_bytes", bytes_file(b'name: "\xed\xa0\x80"\n'), positioned=False),
    # --- paths ---
    Case("a_directory", the_folder, positioned=False, message="directory"),
    Case("missing_file", missing, positioned=False, message="no such file"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_cli_rejects_hostile_input(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path.resolve()
    path = case.build(folder)
    run = run_cli(capsys, "check", path)
    assert_rejected(run, positioned=case.positioned, where=folder, message=case.message)
    if not case.positioned:
        assert re.search(rf"^netc: error: {re.escape(str(path))}", run.err, re.MULTILINE)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_api_rejects_hostile_input(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path.resolve())
    result, seconds = load_boxed(path)
    error = assert_netc_error(result, seconds)
    if case.positioned:
        assert any(d.span is not None for d in error.diagnostics)


TEXT_CASES = [c for c in CASES if isinstance(c.build, TextFile)]


@pytest.mark.parametrize("case", TEXT_CASES, ids=str)
def test_api_rejects_hostile_text(case: Case) -> None:
    """The single-file cases given to `netc.load` as text rather than as a path."""
    assert isinstance(case.build, TextFile)
    result, seconds = load_boxed(case.build.text)
    assert_netc_error(result, seconds)


def test_empty_file_is_an_empty_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.net"
    path.write_bytes(b"")
    run = run_cli(capsys, "check", path)
    assert run.code == 0, run.describe()
    assert run.seconds < TIME_LIMIT
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert "0 layers" in run.out, run.describe()
    graph = netc.load(path)
    assert isinstance(graph, netc.Graph) and len(graph) == 0


@pytest.mark.parametrize("command", [["fmt"], ["convert"], ["convert", "--to", "prototxt"]])
@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.id in ("nested_braces_10mb", "parentheses_10000_deep", "binary_garbage")
    ],
    ids=str,
)
def test_other_commands_reject_hostile_input(
    command: list[str], case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path.resolve()
    path = case.build(folder)
    run = run_cli(capsys, *command, path)
    assert_rejected(run, positioned=case.positioned, where=folder, message=None)


def test_many_hostile_files_in_one_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One `netc check` over several bad files reports each and still exits 1 in time."""
    folder = tmp_path.resolve()
    paths = []
    for i, case in enumerate(c for c in CASES if c.id in ("import_cycle", "repeat_a_billion")):
        sub = folder / str(i)
        sub.mkdir()
        paths.append(case.build(sub))
    paths.append(missing(folder))
    run = run_cli(capsys, "check", *paths)
    assert_rejected(run, positioned=True, where=folder, message="3 of 3 files have errors")


# ---- more hostile input: computed values, long literals, escapes, text given to the API -----
# (Each of these was a bug when this file was written: exit 70, a hang, or unbounded memory.)


@pytest.mark.parametrize("where", ["let", "field"])
def test_long_decimal_literal_is_a_diagnostic(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over 4,300 digits, Python's int() refuses a decimal string (ValueError)."""
    digits = "9" * 5000
    text = (
        f"let x = {digits}\n"
        if where == "let"
        else H + f'layer {{ type: "Convolution" num_output: {digits} kernel_size: 3 }}\n'
    )
    path = text_file(text)(tmp_path.resolve())
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)


@pytest.mark.parametrize("how", ["plus", "interpolation"])
def test_string_doubling_is_bounded(how: str) -> None:
    """1,000 characters doubled 7 times is 128,000 characters, over the 100,000 limit.

    Doubled 40 times it would be a terabyte: the limit must apply to computed strings too.
    """
    step = "let s = s + s\n" if how == "plus" else 'let s = "${s}${s}"\n'
    text = f'let s = "{"x" * 1000}"\n' + step * 7 + "name: s\n"
    result, seconds = load_boxed(text)
    error = assert_netc_error(result, seconds)
    assert "too long" in str(error)


def nested_lists(name: str) -> str:
    """`let {name}9`: ten levels of ten references to the level below, 10**10 numbers in all."""
    return f"let {name}0 = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"let {name}{i} = [{', '.join([f'{name}{i - 1}'] * 10)}]\n" for i in range(1, 10)
    )


@pytest.mark.parametrize(
    "use",
    ['name: "${l9}"\n', "name: str(l9)\n", "let n = len(l9 + l9)\n", "let e = l9 == m9\n"],
    ids=["interpolation", "str", "concatenation", "equality"],
)
def test_nested_lists_are_bounded(use: str) -> None:
    """Rendering or comparing 10**10 numbers never ends; in C (==) not even an alarm stops it.

    The lists must be rejected when built, so `==` never gets to run.
    """
    result, seconds = load_boxed(nested_lists("l") + nested_lists("m") + use)
    assert_netc_error(result, seconds)


def test_branching_recursion_ends_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two instances a level, 30 levels (under the depth limit of 32): 2**30 instances."""
    text = 'define t(n) { if n > 0 { t "a" { n: n - 1 } t "b" { n: n - 1 } } }\nt "x" { n: 30 }\n'
    path = text_file(text)(tmp_path.resolve())
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)


def test_nested_repeats_of_a_real_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named convolution costs more to expand than a ReLU: the layer limit must still be quick."""
    layer = 'layer { name: "c${i}_${j}" type: "Convolution" num_output: 8 kernel_size: 3 pad: 1 }'
    text = H + f"repeat i in 1..100000 {{ repeat j in 1..100000 {{ {layer} }} }}\n"
    path = text_file(text)(tmp_path.resolve())
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)


def test_file_just_under_the_size_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """3.9 MB of `a: 1 `: 2.4 million tokens, minutes for the parser unless counted first."""
    path = text_file("a: 1 " * (mb(3.9) // 5))(tmp_path.resolve())
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("check", 'name: "\\ud800"\n' + H + 'layer { type: "ReLU" }\n'),
        ("fmt", 'layer { name: "\\udc80" type: "ReLU" }\n'),
    ],
    ids=["check", "fmt"],
)
def test_surrogate_escape_never_crashes(
    command: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A \\uD800 escape is a lone surrogate, which no UTF-8 output stream can print."""
    path = text_file(text)(tmp_path.resolve())
    run = run_cli(capsys, command, path)
    assert run.code in (0, 1), run.describe()
    assert "Traceback" not in run.err and "internal error" not in run.err


def test_load_of_empty_text_is_an_empty_network() -> None:
    """`netc.load("")` is the empty network, like an empty file, not the path "."."""
    graph = netc.load("")
    assert isinstance(graph, netc.Graph) and len(graph) == 0


@pytest.mark.parametrize("text", ["x" * 300, "#" + "x" * 5000, "é" * 200])
def test_load_of_one_long_line_is_text(text: str) -> None:
    """No newline, brace or colon: it looks like a path, but is too long for one (OSError)."""
    result, seconds = load_boxed(text)
    if not isinstance(result, netc.Graph):  # a comment is an empty network; "xxx" is an error
        assert_netc_error(result, seconds)


# ---- regressions: bugs this file found, fixed ---------------------------------------------------


def test_sum_of_100000_terms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = text_file("let x = " + "+".join(["1"] * 100_000) + "\n")(tmp_path.resolve())
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)


def test_file_just_over_the_token_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = text_file("a: 1 " * 27_000)(tmp_path.resolve())  # 81,000 tokens: over Limits.max_tokens
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)


@pytest.mark.parametrize(
    "layer",
    [
        'layer { type: "MemoryData" }',  # TypeError: int(None) in MemoryData.shapes
        'layer { type: "DummyData" dummy_data_param { height: 5 } }',  # IndexError
        'layer { type: "WindowData" top: "a" top: "b" window_data_param { crop_size: 1 } }',
    ],
    ids=["MemoryData", "DummyData", "WindowData"],
)
def test_data_layer_without_sizes(
    layer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by test_schema_networks: a missing size is a diagnostic, not an internal error."""
    path = text_file(layer + "\n")(tmp_path.resolve())
    assert_rejected(run_cli(capsys, "check", path), positioned=True, where=path, message=None)
    result, seconds = load_boxed(layer + "\n")
    assert_netc_error(result, seconds)


# ---- property tests -------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


VOCABULARY = [
    # keywords
    *words("define repeat if else let import extends freeze tune replace remove in and or not"),
    *words("layer layers type bottom top name input input_shape dim inplace include phase"),
    # layer types and fields
    *(
        f'"{t}"'
        for t in words(
            "Convolution ReLU Pooling InnerProduct Softmax Input Concat Eltwise Dropout BatchNorm "
            "Scale Reshape Slice Flatten LRN Deconvolution Split Sigmoid TanH Power"
        )
    ),
    *words("num_output kernel_size stride pad group bias_term pool MAX AVE axis dropout_ratio"),
    *words("convolution_param pooling_param inner_product_param param lr_mult decay_mult"),
    *words("global_pooling operation SUM PROD coeff slice_point shape reshape_param TEST TRAIN"),
    *words("CONVOLUTION RELU true false inf nan min max len str int float round input_dim"),
    # names, numbers, strings
    *words("a b x n i j t data conv1 pool1 fc"),
    *words("0 1 2 3 7 64 -1 1.5 .5 1e-4 1.0f 0x10 1000000000 99999999999999999999 1e999"),
    '"data"',
    '"conv1"',
    '"conv${i}"',
    '"${n}"',
    '"${i * 2 + 1}"',
    '"${"',
    '"$${x}"',
    '""',
    "'a'",
    '"lib.net"',
    '"a\\nb"',
    '"\\x41\\101"',
    '"unterminated',
    # punctuation and operators
    *words("{ } : < > [ ] ( ) , ; # .. ${ = + - * ** / // % ? == != <= >="),
    "\n",
    "# a comment\n",
]

SEPARATORS = st.sampled_from([" ", " ", "\n", "", "\t"])

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def token_soups(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.sampled_from(VOCABULARY), max_size=60))
    return "".join(token + draw(SEPARATORS) for token in tokens)


def check_api(text: str) -> None:
    """`netc.load` returns a Graph, or raises NetcError with well-formed diagnostics."""
    try:
        with time_box(FUZZ_BOX):
            graph = netc.load(Source("<fuzz>", text))
    except Overtime:
        raise AssertionError(f"netc.load still running after {FUZZ_BOX} s") from None
    except NetcError as error:
        assert error.diagnostics, "a NetcError without diagnostics"
        lines = text.count("\n") + 1
        for d in error.diagnostics:
            assert d.message, d
            assert d.span is not None, f"a diagnostic without a location: {d.to_json()}"
            if d.span is not None:
                assert d.span.line >= 1 and d.span.column >= 1, d.to_json()
                if d.span.file == "<fuzz>":
                    assert d.span.line <= lines, d.to_json()
        str(error)  # renders: excerpt, caret and hint
    else:
        assert isinstance(graph, netc.Graph)


def check_cli(text: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`netc check FILE` exits 0 or 1, never 70, never with a traceback."""
    path = folder / "fuzz.net"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    run = run_cli(capsys, "check", path, box=FUZZ_BOX)
    assert run.code in (0, 1), run.describe()
    assert "Traceback" not in run.err + run.out, run.describe()
    if run.code == 1:
        assert POSITIONED.search(run.err), run.describe()


@FUZZ
@given(text=token_soups())
def test_token_soup(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_api(text)
    check_cli(text, tmp_path, capsys)


TEMPLATE_EXAMPLE = """\
# A small residual network in the netc language.
name: "tiny-res"
input: "data" input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }
let widths = [16, 32]

define conv_bn(planes: int, k: int = 3, stride: int = 1) {
  layer { name: "conv" type: "Convolution" num_output: planes kernel_size: k pad: (k - 1) // 2 stride: stride bias_term: false }
  layer { name: "bn" type: "BatchNorm" inplace: true }
  layer { name: "scale" type: "Scale" bias_term: true inplace: true }
}

define block(planes, stride = 1) {
  conv_bn "a" { planes: planes stride: stride }
  layer { name: "relu" type: "ReLU" inplace: true }
  conv_bn "b" { planes: planes }
  if stride != 1 {
    layer { name: "proj" bottom: input type: "Convolution" num_output: planes kernel_size: 1 stride: stride }
  }
  layer { name: "add" type: "Eltwise" bottom: "b.conv" bottom: stride != 1 ? "proj" : input }
}

layer { name: "stem" type: "Convolution" num_output: widths[0] kernel_size: 3 pad: 1 }
repeat i, w in widths {
  block "stage${i + 1}" { planes: w stride: i == 0 ? 1 : 2 }
}
layer { name: "pool" type: "Pooling" pool: AVE global_pooling: true }
layer { name: "fc" type: "InnerProduct" num_output: 10 }
layer { name: "prob" type: "Softmax" }
"""

ZOO_BASES = {"lenet": "caffe/lenet.prototxt", "alexnet": "caffe/bvlc_alexnet.deploy.prototxt"}
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\.\.|\$\{|\S')


def test_template_example_is_valid() -> None:
    """The mutation base is a real network, so mutations start from valid input."""
    graph = netc.load(TEMPLATE_EXAMPLE)
    assert "stage2.proj" in [n.name for n in graph.nodes]


@pytest.fixture(scope="module", params=["template", *ZOO_BASES])
def base_text(request: pytest.FixtureRequest) -> str:
    """A valid file to mutate: the netc example, or a zoo file (skipped without the zoo)."""
    if request.param == "template":
        return TEMPLATE_EXAMPLE
    zoo_dir: Path = request.getfixturevalue("zoo_dir")  # skips, or fails under CI=true
    return (zoo_dir / ZOO_BASES[request.param]).read_text(encoding="utf-8")


# One mutation: (kind, where as a fraction of the text, how many, what to insert).
MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["delete", "insert", "replace", "delete_token", "duplicate_token", "swap"]),
        st.floats(min_value=0, max_value=1, allow_nan=False),
        st.integers(min_value=1, max_value=12),
        st.one_of(
            st.sampled_from(VOCABULARY),
            st.text(max_size=4),
            st.text(alphabet="{}[]()<>:;,\"'#$.\\ \n", max_size=4),
        ),
    ),
    min_size=1,
    max_size=6,
)


def mutate(text: str, mutations: list[tuple[str, float, int, str]]) -> str:
    for kind, where, count, insert in mutations:
        if kind in ("delete", "insert", "replace"):
            at = int(where * len(text))
            end = at if kind == "insert" else min(len(text), at + count)
            text = text[:at] + ("" if kind == "delete" else insert) + text[end:]
            continue
        tokens = [m.span() for m in TOKEN.finditer(text)]
        if not tokens:
            continue
        i = min(len(tokens) - 1, int(where * len(tokens)))
        start, end = tokens[i]
        if kind == "delete_token":
            text = text[:start] + text[end:]
        elif kind == "duplicate_token":
            text = text[:end] + " " + text[start:end] * count + text[end:]
        else:  # swap with a token `count` further on
            j = min(len(tokens) - 1, i + count)
            s2, e2 = tokens[j]
            if j > i:
                text = text[:start] + text[s2:e2] + text[end:s2] + text[start:end] + text[e2:]
    return text


@FUZZ
@given(mutations=MUTATIONS)
def test_mutated_files(
    base_text: str,
    mutations: list[tuple[str, float, int, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = mutate(base_text, mutations)
    check_api(text)
    check_cli(text, tmp_path, capsys)


# Networks built from the Caffe schema: mostly sensible layers and fields, with boundary values
# mixed in, so that examples get past parsing into expansion and shape inference.


@functools.cache
def layer_types() -> list[str]:
    """Every registered type (looked up when the test runs)."""
    return sorted(all_types())


GOOD_INTS = words("1 2 3 4 8 16")
BAD_INTS = words("0 -1 7 4294967295 2147483648 9223372036854775808 0x10 1.5 1e308 nan")
GOOD_FLOATS = words("0.5 1 0.001 2")
BAD_FLOATS = words("0 -0.0 -1 1e-45 1e308 1e999 -inf nan")
LAYER_EXTRAS = [
    "include { phase: TRAIN }",
    "exclude { phase: TEST }",
    "param { lr_mult: 0 }",
    "loss_weight: 1",
    "propagate_down: false",
    "inplace: true",
    'bottom: "data"',
    'top: "t"',
    'bottom: "t"',
    'bottom: "nope"',
]


def mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Three in four values sensible, one a boundary or nonsense value."""
    return st.one_of(*[st.sampled_from(good)] * 3, st.sampled_from(bad))


def field_values(field: Field) -> st.SearchStrategy[str]:
    kind = field.kind.name
    if kind in ("FLOAT", "DOUBLE"):
        return mostly(GOOD_FLOATS, BAD_FLOATS)
    if kind == "BOOL":
        return st.sampled_from(["true", "false"])
    if kind == "ENUM" and field.enum is not None:
        return st.sampled_from([*CAFFE.enum(field.enum).values, "BOGUS"])
    if kind in ("STRING", "BYTES"):
        return st.sampled_from(['"data"', '""', '"x y"'])
    return mostly(GOOD_INTS, BAD_INTS)


@st.composite
def message_bodies(draw: st.DrawFn, message: str, depth: int = 0) -> str:
    fields = CAFFE.message(message).fields
    if not fields:
        return ""
    parts = []
    for field in draw(st.lists(st.sampled_from(fields), max_size=4, unique_by=lambda f: f.name)):
        if field.kind.name == "MESSAGE" and field.message is not None:
            if depth < 2:
                parts.append(f"{field.name} {{ {draw(message_bodies(field.message, depth + 1))} }}")
            continue
        for _ in range(draw(st.integers(1, 3)) if field.repeated else 1):
            parts.append(f"{field.name}: {draw(field_values(field))}")
    return " ".join(parts)


@st.composite
def layers(draw: st.DrawFn, index: int) -> str:
    layer_type = draw(st.sampled_from(layer_types()))
    parts = [f'name: "l{index}"', f'type: "{layer_type}"']
    message = all_types()[layer_type].message
    holder = CAFFE.message("LayerParameter").get(message) if message else None
    if message and holder is not None and holder.message and draw(st.integers(0, 3)):
        parts.append(f"{message} {{ {draw(message_bodies(holder.message))} }}")
    parts += draw(st.lists(st.sampled_from(LAYER_EXTRAS), max_size=2))
    return "layer { " + " ".join(parts) + " }"


@st.composite
def networks(draw: st.DrawFn) -> str:
    good, bad = words("1 2 3 8 16 32"), words("0 -1 2147483648 9223372036854775807")
    dims = draw(
        st.one_of(st.just(words("1 3 16 16")), st.lists(mostly(good, bad), min_size=1, max_size=5))
    )
    head = 'input: "data" input_shape { ' + " ".join(f"dim: {d}" for d in dims) + " }\n"
    body = [draw(layers(i)) for i in range(draw(st.integers(1, 6)))]
    return head + "\n".join(body) + "\n"


@FUZZ
@given(text=networks())
def test_schema_networks(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_api(text)
    check_cli(text, tmp_path, capsys)


# Expressions built from the language's operators, functions and awkward values.

EXPRESSION_ATOMS = [
    *words("0 1 -1 2 3 255 256 0.0 -0.0 0.5 1e308 1e-308 inf nan true false 0x7fffffffffffffff"),
    *['"a"', '""', '"10"', "[]", "[1, 2]", '[1, "a"]', "[[1], [2]]", "2 ** 255", "-(2 ** 255)"],
]
BINARY_OPERATORS = words("+ - * / // % ** == != < <= > >= and or")
FUNCTIONS = words("min max abs int float floor ceil round len str nope")
EXPRESSION_USES = [  # {e} stands for the expression
    "let v = {e}\nname: str(v)\n",
    'name: "${{e}}"\n',
    H + 'layer { type: "Convolution" num_output: {e} kernel_size: 3 }\n',
    H + 'layer { type: "Power" power_param { power: {e} scale: {e} } }\n',
    "repeat i in {e} { }\n",
    "repeat i in 0..{e} { let w = i }\n",
    "if {e} { } else { }\n",
    'input: "data" input_shape { dim: 1 dim: {e} }\n',
]


def expressions() -> st.SearchStrategy[str]:
    def compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY_OPERATORS), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(["-", "+", "not "]), inner).map(lambda t: f"({t[0]}{t[1]})"),
            st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
            st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        )

    return st.recursive(st.sampled_from(EXPRESSION_ATOMS), compound, max_leaves=12)


@FUZZ
@given(expression=expressions(), use=st.sampled_from(EXPRESSION_USES))
def test_expressions(
    expression: str, use: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = use.replace("{e}", expression)
    check_api(text)
    check_cli(text, tmp_path, capsys)


# The generators that found the hardening defects: in-place chains with views, generated valid
# Caffe networks, nested templates with long names. Every command on each: exit 0 or 1 (never
# 70), a file:line:col on every error, inside the time box; memory bounded where names multiply.

COMMANDS: list[tuple[str, ...]] = [
    ("check",),
    ("analyze", "--format", "json"),
    ("render", "--format", "dot", "-o", "{out}.dot"),
    ("build", "--target", "torch", "-o", "{out}.py"),
    ("build", "--target", "onnx", "-o", "{out}.onnx"),
]


def check_every_command(
    text: str, folder: Path, capsys: pytest.CaptureFixture[str], *, valid: bool
) -> list[Run]:
    path = folder / "fuzz.net"
    path.write_text(text, encoding="utf-8")
    runs = []
    for command in COMMANDS:
        args = [a.replace("{out}", str(folder / "out")) for a in command]
        run = run_cli(capsys, args[0], path, *args[1:], box=FUZZ_BOX)
        assert run.code in (0, 1), f"{' '.join(command)}: {run.describe()}"
        assert "Traceback" not in run.err + run.out, run.describe()
        if run.code == 1:
            assert POSITIONED.search(run.err), f"{' '.join(command)}: {run.describe()}"
        if valid:
            assert run.code == 0, f"{' '.join(command)} refused a valid network: {run.describe()}"
        runs.append(run)
    return runs


FUZZ_COMMANDS = settings(FUZZ, max_examples=25)


@FUZZ_COMMANDS
@given(text=caffe_networks())
def test_generated_caffe_networks_pass_every_command(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_every_command(text, tmp_path, capsys, valid=True)


@FUZZ_COMMANDS
@given(text=inplace_chains())
def test_inplace_chains_with_views_pass_every_command(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_every_command(text, tmp_path, capsys, valid=True)


MEMORY_BOUND = 512 * 2**20  # bytes Python may hold while loading one generated spec
JSON_BOUND = 64 * 2**20  # characters of `analyze --format json`


@FUZZ_COMMANDS
@given(text=nested_templates())
def test_nested_templates_with_long_names_stay_bounded(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        check_api(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak:,} bytes to load {len(text)} characters"
    runs = check_every_command(text, tmp_path, capsys, valid=False)
    assert len(runs[1].out) < JSON_BOUND
