"""Every kind of bad input gets one compiler-style diagnostic: file:line:col, the line, a caret,
a hint, exit code 1 — through the real `netc` entry point, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from netc.cli.app import main

H = 'input: "data" input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\n'  # line 1 of most cases


def conv(extra: str = "", name: str = "c") -> str:
    return f'layer {{ name: "{name}" type: "Convolution" num_output: 8 kernel_size: 3 {extra}}}'


# (id, source, message fragment, line, column). Columns are 1-based and point at the culprit.
CASES: list[tuple[str, str, str, int, int]] = [
    # --- syntax ---
    ("eof_in_message", 'layer { name: "c" type: "ReLU"', "unexpected end of file", 1, 31),
    ("stray_close", 'layer { name: "c" type: "ReLU" }}', 'unexpected "}"', 1, 33),
    ("missing_colon", 'layer { name "c" }', 'expected ":" after "name"', 1, 9),
    ("bad_character", "a: @", "unexpected character '@'", 1, 4),
    ("unterminated_string", 'a: "abc\nb: 1', "unterminated string", 1, 4),
    ("bad_escape", 'name: "a\\qb"', "invalid escape sequence \\q", 1, 7),
    ("value_without_name", "layer { 3 }", "unexpected number 3", 1, 9),
    ("empty_interpolation", 'name: "x${}"', "empty ${} in string", 1, 9),
    ("bad_interpolation", 'name: "x${1 +}"', "invalid expression inside ${...}", 1, 13),
    ("angle_unclosed", "layer < name: 'x' ", "unexpected end of file", 1, 19),
    # --- fields and values ---
    (
        "unknown_field",
        H + conv().replace("num_output", "num_ouput"),
        'unknown field "num_ouput"',
        2,
        39,
    ),
    ("unknown_top_level_field", 'nme: "x"', 'unknown field "nme" in NetParameter', 1, 1),
    (
        "unknown_enum",
        H + 'layer { name: "p" type: "Pooling" pool: MAXX kernel_size: 2 }',
        "unknown value MAXX",
        2,
        41,
    ),
    (
        "quoted_enum",
        H + 'layer { name: "p" type: "Pooling" pool: "MAX" kernel_size: 2 }',
        "takes an enum name without quotes",
        2,
        41,
    ),
    ("duplicate_field", H + conv("num_output: 9 "), '"num_output" is given twice', 2, 68),
    (
        "string_for_int",
        H + conv().replace("8", '"eight"'),
        '"num_output" needs an integer, got string "eight"',
        2,
        51,
    ),
    ("negative_uint", H + conv().replace("8", "-8"), '"num_output" must not be negative', 2, 51),
    (
        "fraction_for_int",
        H + conv().replace("8", "8.5"),
        '"num_output" needs an integer, got float 8.5',
        2,
        51,
    ),
    ("bad_bool", H + conv("bias_term: maybe "), '"bias_term" needs true or false', 2, 79),
    (
        "scalar_for_message",
        H + conv("weight_filler: 3 "),
        '"weight_filler" is a message, not a value',
        2,
        83,
    ),
    ("message_for_scalar", H + conv("group { } "), '"group" is a value, not a message', 2, 68),
    (
        "string_for_float",
        H + 'layer { name: "d" type: "Dropout" dropout_ratio: "half" }',
        '"dropout_ratio" needs a number',
        2,
        50,
    ),
    (
        "param_message_of_other_type",
        H + 'layer { name: "r" type: "ReLU" convolution_param { num_output: 3 } }',
        "convolution_param does not apply to a ReLU layer",
        2,
        32,
    ),
    ("unknown_name_in_expression", "let x = y + 1", 'unknown name "y"', 1, 9),
    ("division_by_zero", "let x = 1 / 0", "division by zero", 1, 9),
    ("bad_operand", 'let x = "a" * 2.5', '"*" needs a number, got string "a"', 1, 9),
    # --- layer types and wiring ---
    (
        "unknown_type",
        H + conv().replace("Convolution", "Convlution"),
        'unknown layer type "Convlution"',
        2,
        25,
    ),
    ("v1_type_in_layer", H + 'layer { name: "r" type: RELU }', "legacy V1 spelling", 2, 25),
    ("missing_type", H + 'layer { name: "c" }', 'layer "c" has no type', 2, 1),
    ("unknown_bottom", H + conv('bottom: "dta" '), 'unknown bottom "dta"', 2, 76),
    ("no_input", conv(), 'layer "c" has no input', 1, 1),
    (
        "duplicate_top",
        H + conv('top: "x" ') + "\n" + conv('bottom: "data" top: "x" ', "d"),
        'top "x" of layer "d" is already produced by "c"',
        3,
        88,
    ),
    (
        "cycle",
        H
        + 'layer { name: "a" type: "ReLU" bottom: "b" }\nlayer { name: "b" type: "ReLU" bottom: "a" }',
        'reads "b" before it is produced',
        2,
        40,
    ),
    (
        "too_many_bottoms",
        H + 'layer { name: "r" type: "ReLU" bottom: "data" bottom: "data" }',
        "has 2 bottoms; it takes 1",
        2,
        1,
    ),
    (
        "too_few_bottoms",
        H + 'layer { name: "e" type: "Eltwise" }',
        "has 1 bottom; it takes 2 or more",
        2,
        1,
    ),
    (
        "too_many_param_specs",
        H + conv("param { } param { } param { } "),
        "gives 3 param specs for 2 blobs",
        2,
        68,
    ),
    # --- shapes ---
    (
        "kernel_larger_than_input",
        H + conv().replace("kernel_size: 3", "kernel_size: 40"),
        "kernel 40 is larger than the padded input 32",
        2,
        66,
    ),
    (
        "pool_larger_than_input",
        H + 'layer { name: "p" type: "Pooling" kernel_size: 40 }',
        "pooling window 40 is larger than the padded input 32",
        2,
        48,
    ),
    (
        "non_positive_output",
        H + 'layer { name: "d" type: "Deconvolution" num_output: 8 kernel_size: 1 pad: 40 }',
        "output size -48 is not positive",
        2,
        75,
    ),
    (
        "concat_mismatch",
        H
        + conv("", "a")
        + "\n"
        + conv('bottom: "data" pad: 1 ', "b")
        + '\nlayer { name: "cat" type: "Concat" bottom: "a" bottom: "b" }',
        "they differ on axis 2",
        4,
        1,
    ),
    (
        "eltwise_mismatch",
        H
        + conv("pad: 1 ", "a")
        + "\n"
        + 'layer { name: "add" type: "Eltwise" bottom: "a" bottom: "data" }',
        "bottom 1 is 1×3×32×32 but bottom 0 is 1×8×32×32",
        3,
        1,
    ),
    (
        "eltwise_coeff_count",
        H
        + 'layer { name: "r" type: "ReLU" }\nlayer { name: "add" type: "Eltwise" bottom: "r" bottom: "data" coeff: 1 }',
        "1 coeff values for 2 bottoms",
        3,
        71,
    ),
    (
        "group_not_dividing",
        H + conv("group: 2 "),
        "group 2 must divide both the input channels (3)",
        2,
        75,
    ),
    (
        "lrn_even_size",
        H + 'layer { name: "n" type: "LRN" local_size: 4 }',
        "local_size must be a positive odd number",
        2,
        43,
    ),
    (
        "reshape_indivisible",
        H + 'layer { name: "r" type: "Reshape" shape { dim: 7 dim: -1 } }',
        "cannot infer -1",
        2,
        35,
    ),
    (
        "slice_points",
        H + 'layer { name: "s" type: "Slice" top: "a" top: "b" slice_point: 1 slice_point: 2 }',
        "2 slice_point values for 2 tops",
        2,
        64,
    ),
    (
        "input_dims",
        'input: "data" input_dim: 1 input_dim: 3 input_dim: 32',
        "3 input_dim values for 1 input(s)",
        1,
        26,
    ),
    (
        "scale_second_bottom",
        H
        + 'layer { name: "g" type: "InnerProduct" num_output: 5 }\nlayer { name: "s" type: "Scale" bottom: "data" bottom: "g" axis: 0 }',
        "second bottom 1×5 does not match",
        3,
        66,
    ),
    # --- templates and statements ---
    ("unknown_template", 'blok "b1" { n: 1 }', 'unknown template "blok"', 1, 1),
    (
        "template_defined_twice",
        "define t() { }\ndefine t() { }",
        'template "t" is defined twice',
        2,
        8,
    ),
    ("template_missing_argument", 'define t(a, b) { }\nt "x" { a: 1 }', "lacks argument: b", 2, 3),
    (
        "template_unknown_argument",
        'define t(a) { }\nt "x" { a: 1 c: 2 }',
        'has no parameter "c"',
        2,
        14,
    ),
    (
        "template_argument_type",
        'define t(a: int) { }\nt "x" { a: "s" }',
        'parameter "a" of "t" is int, got string "s"',
        2,
        12,
    ),
    (
        "unknown_parameter_type",
        "define t(a: integer) { }",
        'unknown parameter type "integer"',
        1,
        10,
    ),
    (
        "recursive_template",
        'define t() { t "again" }\nt "x"',
        "templates nest deeper than 32 levels",
        1,
        14,
    ),
    (
        "repeat_too_large",
        "repeat i in 1..1000000000 { }",
        "repeat of 1,000,000,000 iterations",
        1,
        1,
    ),
    ("repeat_not_a_list", "repeat i in 5 { }", "repeat needs a list or a range", 1, 13),
    (
        "condition_not_boolean",
        'if "yes" { }',
        'a condition needs a bool or a number, got string "yes"',
        1,
        4,
    ),
    ("index_out_of_range", "let x = [1, 2][5]", "index 5 is out of range", 1, 16),
    ("unknown_function", "let x = maxx(1, 2)", "unknown function maxx()", 1, 9),
    ("import_absolute", 'import "/etc/passwd"', "is an absolute path", 1, 8),
    ("import_parent", 'import "../../x"', "leaves the importing file's folder", 1, 8),
    ("import_missing", 'import "nothere.net"', 'cannot find "nothere.net"', 1, 8),
    ("extends_not_first", H + 'extends "base.net"', "`extends` must be the first statement", 2, 1),
    ("freeze_unknown_layer", H + conv() + '\nfreeze "cc"', 'no layer named "cc"', 3, 8),
    (
        "tune_bad_field",
        H + conv() + '\ntune "c" { lr: 0.1 }',
        "tune sets lr_mult, decay_mult or param",
        3,
        12,
    ),
    (
        "layer_in_message",
        'layer { name: "x" define t() { } }',
        'unexpected "define"',
        1,
        19,
    ),
    (
        "net_field_in_template",
        'define t() { name: "x" }\nt "i"',
        '"name" cannot appear inside a template',
        1,
        14,
    ),
]


def run_cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["netc", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_at_least_forty_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    assert len({c[2] for c in CASES}) >= 40


@pytest.mark.parametrize(
    ("case", "source", "message", "line", "column"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(
    case: str,
    source: str,
    message: str,
    line: int,
    column: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / f"{case}.net"
    path.write_text(source + "\n")
    code, _out, err = run_cli(["check", str(path)], capsys, monkeypatch)
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:{line}:{column}: error: "), err
    assert message in first, err
    # the source line with a caret under the culprit, and a hint
    lines = err.splitlines()
    assert lines[1].strip().startswith(f"{line} |"), err
    caret_line = lines[2]
    assert caret_line.index("^") - caret_line.index("|") - 2 == column - 1, err
    assert any(x.strip().startswith("hint: ") for x in lines), err


def test_independent_errors_are_all_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "many.net"
    path.write_text(
        H
        + 'layer { name: "a" type: "Convlution" }\n'
        + 'layer { name: "b" type: "ReLU" bottom: "data" relu_slope: 1 }\n'
        + 'layer { name: "c" type: "Pooling" bottom: "data" pool: AVERAGE kernel_size: 2 }\n'
    )
    code, _, err = run_cli(["check", str(path)], capsys, monkeypatch)
    assert code == 1
    located = [line.split(": error:")[0] for line in err.splitlines() if ": error:" in line]
    assert located == [f"{path}:2:25", f"{path}:3:47", f"{path}:4:56"]
    assert "3 errors" in err


def test_failed_layer_does_not_cascade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cascade.net"
    path.write_text(
        H
        + conv().replace("kernel_size: 3", "kernel_size: 99")
        + '\nlayer { name: "r" type: "ReLU" }\n'
    )
    _, _, err = run_cli(["check", str(path)], capsys, monkeypatch)
    assert err.count(": error:") == 1


def test_a_bad_field_in_a_parameter_message_is_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The type's parameter message was validated twice: as a field of LayerParameter and as
    the type's own parameters, so each mistake in it came out twice."""
    path = tmp_path / "twice.prototxt"
    path.write_text(
        H + 'layer { name: "p" type: "Pooling" pooling_param { kernel_size: 2 ceil_mod: false } }\n'
    )
    _, _, err = run_cli(["check", str(path)], capsys, monkeypatch)
    assert err.count(": error:") == 1 and 'unknown field "ceil_mod"' in err


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["chek", "x.net"],
        ["check", "--phase", "LATER", "x.net"],
        ["check", "--input-shape", "data=1xAx3", "x.net"],
        ["convert", "--to", "yaml", "x.net"],
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(argv, capsys, monkeypatch)
    assert code == 2
    assert "Traceback" not in err


def test_missing_file_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(["check", str(tmp_path / "absent.net")], capsys, monkeypatch)
    assert code == 1
    assert "no such file" in err and "hint:" in err


def test_api_raises_the_same_diagnostics() -> None:
    import netc

    with pytest.raises(netc.NetcError) as info:
        netc.load(H + conv().replace("Convolution", "Convlution"))
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.column) == (2, 25)
    assert diagnostic.hint == 'did you mean "Convolution"?'
    assert str(info.value).startswith("<string>:2:25: error: unknown layer type")
