"""Removal of characters that XML 1.0 forbids.

feedgen raises at render time on such characters and browsers show an error
page for them, so every text field is passed through `clean` on its way in.
"""

import re

# C0 controls except tab, LF and CR; C1 controls; lone surrogates; U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Return `text` without the characters XML 1.0 forbids."""
    return _FORBIDDEN.sub("", text)


def clean_optional(text: str | None) -> str | None:
    """`clean` for fields that may be absent."""
    return None if text is None else clean(text)
