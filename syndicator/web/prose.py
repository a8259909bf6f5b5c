"""Sentences built around text we do not write: feed titles, validators' messages.

"From the Waters...." already ends a sentence; a validator's message may
already be one. Every page ends such sentences through here, so no title gets
a fifth dot and no message a second one.
"""

from __future__ import annotations

_ENDINGS = (".", "!", "?", "…")
_CLOSERS = "\"'\u201d\u2019)]\u00bb"  # quotes and brackets that may follow the stop
_FIELD_NAMES = {"email": "The email address", "frequency": "The frequency"}


def end_sentence(text: str) -> str:
    """`text` followed by a full stop, unless it already ends a sentence."""
    return text if text.rstrip(_CLOSERS).endswith(_ENDINGS) else f"{text}."


def field_problem(field: str, reason: str) -> str:
    """One clean sentence about a form field: "The email address is required."."""
    if reason[:1].isupper():  # already a sentence of its own (email-validator writes those)
        return end_sentence(reason)
    name = _FIELD_NAMES.get(field, f"The {field.replace('_', ' ')}")
    return end_sentence(f"{name} {reason}")
