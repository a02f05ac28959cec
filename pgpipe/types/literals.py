"""Fields of row and range literals, as record_out and range_out quote them."""

from __future__ import annotations


def split_fields(inner: str) -> list[str | None]:
    """Split ``a,"b, c",,d`` on unquoted commas; an empty unquoted field is None.

    Inside a field, ``"`` starts and ends quoting, ``""`` within quotes is a
    quote, and a backslash takes the next character literally.
    """
    fields: list[str | None] = []
    pos = 0
    end = len(inner)
    while True:
        if pos >= end or inner[pos] == ",":
            fields.append(None)
        else:
            out = []
            quoted = False
            while pos < end and (quoted or inner[pos] != ","):
                char = inner[pos]
                if char == "\\":
                    out.append(inner[pos + 1 : pos + 2])
                    pos += 2
                elif char == '"':
                    if quoted and inner[pos + 1 : pos + 2] == '"':
                        out.append('"')
                        pos += 2
                    else:
                        quoted = not quoted
                        pos += 1
                else:
                    out.append(char)
                    pos += 1
            fields.append("".join(out))
        if pos >= end:
            return fields
        pos += 1  # the comma
