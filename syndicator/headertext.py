"""Text bound for a mail header must stay on one line.

A line break in a header value starts a new header (`Bcc: …`) or the body,
so every value that reaches a header — feed titles, the configured sender,
addresses — is refused with a reason when it holds a control character. Tab
is allowed: in a header it is ordinary folding white space.
"""

import re

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def problem(text: str) -> str | None:
    """Why `text` cannot go into a mail header, or None when it can."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    if found[0] in "\r\n":
        return "must be one line (it contains a line break)"
    return f"must not contain control characters (it contains U+{ord(found[0]):04X})"
