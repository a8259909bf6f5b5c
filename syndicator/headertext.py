"""Text bound for a mail header must stay on one line.

A line break in a header value starts a new header (`Bcc: …`) or the body,
so every value that reaches a header — feed titles, the configured sender,
addresses — is refused with a reason when it holds a control character. Tab
is allowed: in a header it is ordinary folding white space. A value stored
before it was checked (a feed title imported before feed.toml was checked) is
made one line on its way out instead, so its mail still goes.
"""

import re

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROL_RUN = re.compile("[ \t]*(?:[\x00-\x08\x0a-\x1f\x7f-\x9f][ \t]*)+")


def problem(text: str) -> str | None:
    """Why `text` cannot go into a mail header, or None when it can."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    if found[0] in "\r\n":
        return "must be one line (it contains a line break)"
    return f"must not contain control characters (it contains U+{ord(found[0]):04X})"


def one_line(text: str) -> str:
    """`text` fit for a header: each run of control characters (and the blanks around
    it) becomes one space."""
    return _CONTROL_RUN.sub(" ", text).strip(" ")
