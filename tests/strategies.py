"""Hypothesis strategies shared by the differential and the fuzz tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def caffe_networks(draw: st.DrawFn) -> str:
    channels = draw(st.integers(2, 4))
    side = draw(st.integers(4, 6))
    lines = [f'input: "data" input_shape {{ dim: 1 dim: {channels} dim: {side} dim: {side} }}']
    blobs: dict[str, tuple[int, int]] = {"data": (channels, side)}  # 4-D blobs: (C, H=W)
    if draw(st.booleans()):  # a second input, which layers may read before the first
        lines.append(
            f'input: "aux" input_shape {{ dim: 1 dim: {channels} dim: {side} dim: {side} }}'
        )
        blobs["aux"] = (channels, side)
    count = draw(st.integers(2, 8))
    for i in range(count):
        name = f"l{i}"
        kind = draw(
            st.sampled_from(
                ["conv", "relu", "relu", "slice", "flatten", "pool", "sum", "concat", "split"]
            )
        )
        source = draw(st.sampled_from(sorted(blobs)))
        c, s = blobs[source]
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            n = draw(st.integers(2, 4))
            lines.append(
                f'layer {{ name: "{name}" type: "Convolution" bottom: "{source}" top: "{name}" '
                f"convolution_param {{ num_output: {n} kernel_size: {k} pad: {k // 2} }} }}"
            )
            blobs[name] = (n, s)
        elif kind == "relu":  # in place, as Caffe files write it
            slope = draw(st.sampled_from([0.0, 0.1]))
            lines.append(
                f'layer {{ name: "{name}" type: "ReLU" bottom: "{source}" top: "{source}" '
                f"relu_param {{ negative_slope: {slope} }} }}"
            )
        elif kind == "slice" and c >= 2:
            lines.append(
                f'layer {{ name: "{name}" type: "Slice" bottom: "{source}" top: "{name}a" '
                f'top: "{name}b" slice_param {{ axis: 1 slice_point: 1 }} }}'
            )
            blobs[f"{name}a"], blobs[f"{name}b"] = (1, s), (c - 1, s)
        elif kind == "flatten":  # a view; 2-D, so nothing but the output reads it
            lines.append(
                f'layer {{ name: "{name}" type: "Flatten" bottom: "{source}" top: "{name}" }}'
            )
        elif kind == "pool" and s >= 2:
            pool = draw(st.sampled_from(["MAX", "AVE"]))
            lines.append(
                f'layer {{ name: "{name}" type: "Pooling" bottom: "{source}" top: "{name}" '
                f"pooling_param {{ pool: {pool} kernel_size: 2 stride: 2 }} }}"
            )
            blobs[name] = (c, (s - 2 + 1) // 2 + 1 if (s - 2) % 2 else (s - 2) // 2 + 1)
        elif kind == "sum":
            peers = sorted(b for b, shape in blobs.items() if shape == (c, s))
            other = draw(st.sampled_from(peers))
            lines.append(
                f'layer {{ name: "{name}" type: "Eltwise" bottom: "{source}" bottom: "{other}" '
                f'top: "{name}" }}'
            )
            blobs[name] = (c, s)
        elif kind == "concat":
            peers = sorted(b for b, shape in blobs.items() if shape[1] == s)
            other = draw(st.sampled_from(peers))
            lines.append(
                f'layer {{ name: "{name}" type: "Concat" bottom: "{source}" bottom: "{other}" '
                f'top: "{name}" }}'
            )
            blobs[name] = (c + blobs[other][0], s)
        elif kind == "split":
            lines.append(
                f'layer {{ name: "{name}" type: "Split" bottom: "{source}" top: "{name}a" '
                f'top: "{name}b" }}'
            )
            blobs[f"{name}a"] = blobs[f"{name}b"] = (c, s)
    return "\n".join(lines) + "\n"


@st.composite
def inplace_chains(draw: st.DrawFn) -> str:
    """A long chain of in-place layers with views (Flatten, Slice, Split) read along the way,
    written with the language's `repeat`, as the adversarial run wrote them."""
    length = draw(st.sampled_from([10, 300, 3000]))
    every = draw(st.integers(2, 50))
    view = draw(
        st.sampled_from(
            [
                'layer { name: "f${i}" type: "Flatten" bottom: "c" top: "f${i}" }',
                'layer { name: "s${i}" type: "Slice" bottom: "c" top: "s${i}a" top: "s${i}b" '
                "slice_param { axis: 1 slice_point: 1 } }",
                'layer { name: "p${i}" type: "Split" bottom: "c" top: "p${i}a" top: "p${i}b" }',
            ]
        )
    )
    return (
        'input: "data" input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        "convolution_param { num_output: 2 kernel_size: 1 } }\n"
        f"repeat i in 0..{length} {{\n"
        '  layer { name: "r${i}" type: "ReLU" bottom: "c" top: "c" }\n'
        f"  if i % {every} == 0 {{\n    {view}\n  }}\n"
        "}\n"
    )


NAME_LENGTHS = [1, 40, 300, 1000, 1100, 5000]  # netc's limit on one scoped name: 1,024


@st.composite
def nested_templates(draw: st.DrawFn) -> str:
    """Templates inside templates, instances with long names, repeated: the shape of the
    1.4 kB spec that expanded to 764 MB of JSON before names were bounded."""
    depth = draw(st.integers(1, 4))
    fan = draw(st.integers(1, 3))
    repeats = draw(st.sampled_from([1, 10, 200, 2000]))
    long = "n" * draw(st.sampled_from(NAME_LENGTHS))
    lines = [
        'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }',
        f'define t0() {{\n  layer {{ name: "{long}" type: "ReLU" inplace: true }}\n}}',
    ]
    for level in range(1, depth):
        body = "".join(f'  t{level - 1} "{long}{j}" {{ }}\n' for j in range(fan))
        lines.append(f"define t{level}() {{\n{body}}}")
    lines.append(f'repeat i in 0..{repeats} {{\n  t{depth - 1} "{long}${{i}}" {{ }}\n}}')
    return "\n".join(lines) + "\n"
