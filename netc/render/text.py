"""Text that goes into a drawing: made visible (no control characters, nothing XML refuses),
then quoted for DOT. Spec text (layer names, template names, the network's name) passes
through here and can never break the DOT or inject attributes into it."""

from __future__ import annotations

import html

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _allowed(code: int) -> bool:
    """A character XML 1.0 accepts and a drawing shows as itself (no C0/C1 controls)."""
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return False
    if 0xD800 <= code <= 0xDFFF:  # lone surrogates: not encodable, not XML
        return False
    return code not in (0xFFFE, 0xFFFF, 0x2028, 0x2029)  # non-characters, Unicode line breaks


def visible(text: str) -> str:
    """`text` with every character a drawing cannot show written as an escape (`\\n`,
    `\\x07`, `\\ud800`), so a name like "a<newline>b" reads `a\\nb` and stays one line."""
    if all(_allowed(ord(c)) for c in text):
        return text
    out = []
    for c in text:
        code = ord(c)
        if _allowed(code):
            out.append(c)
        elif c in _NAMED:
            out.append(_NAMED[c])
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def _dot_body(text: str) -> str:
    # backslash first (Graphviz's escapes \n \N \G ... must not fire), then the quote that
    # would end the string, then & (Graphviz decodes HTML entities such as &amp; in labels)
    return visible(text).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def dot_quote(text: str) -> str:
    """A DOT double-quoted string that Graphviz shows as `text`, literally."""
    return f'"{_dot_body(text)}"'


def dot_lines(lines: list[str]) -> str:
    """A DOT label of centred lines: each line as by `dot_quote`, joined by `\\n`."""
    return '"' + "\\n".join(_dot_body(line) for line in lines) + '"'


def xml_text(text: str) -> str:
    """Text for an XML/HTML element or attribute (SVG, HTML tables, DOT's HTML-like labels)."""
    return html.escape(visible(text), quote=True)
