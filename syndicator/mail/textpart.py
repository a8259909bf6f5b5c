"""A post's HTML as the plain-text part of a mail: what a reader of that part needs.

Stripping the tags loses what only attributes hold: where a link leads and what
an image shows ("…see the first post and . x"). Here links read "text <url>",
images their alt text, and paragraphs, list items, quotes and preformatted
blocks keep their lines.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol",
    "p", "pre", "section", "table", "tr", "ul",
}  # fmt: skip
_SPACE = re.compile(r"\s+")


def from_html(fragment: str) -> str:
    """Readable text of a sanitized HTML fragment, paragraphs separated by a blank line."""
    reader = _Reader()
    reader.feed(fragment)
    reader.close()
    return reader.text()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # Finished paragraphs, each with the number of the outermost list it is an item of
        # (0: none); items of one list follow each other line by line.
        self.blocks: list[tuple[str, int]] = []
        self.lists_begun = 0
        self.line: list[str] = []  # the paragraph being read
        self.links: list[tuple[str, int]] = []  # open <a>: its href, where its text starts
        self.lists: list[list[int]] = []  # open lists: [next number] for <ol>, [] for <ul>
        self.bullet = ""  # an <li>'s marker, waiting for its first words
        self.marker = ""  # the marker of the paragraph being read
        self.quotes = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag in _BLOCKS or tag == "br":
            self._end_block(soft=tag == "br")
        if tag == "a":
            self.links.append((attributes.get("href", ""), len(self.line)))
        elif tag == "img":
            self._add(_SPACE.sub(" ", attributes.get("alt", "")).strip())
        elif tag in ("ul", "ol"):
            self.lists_begun += not self.lists
            self.lists.append([1] if tag == "ol" else [])
        elif tag == "li":
            self.bullet = self._bullet()
        elif tag == "blockquote":
            self.quotes += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "hr":
            self.blocks.append(("----", 0))
        elif tag in ("td", "th") and self.line:
            self.line.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._end_block()
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.line[start:]).strip()
            if href and href.removeprefix("mailto:") != label:
                self.line.append(f" <{href}>" if label else f"<{href}>")
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "blockquote":
            self.quotes = max(0, self.quotes - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        self._add(data if self.pre else _SPACE.sub(" ", data))

    def _add(self, text: str) -> None:
        if self.bullet and text.strip():
            self.marker, self.bullet = self.bullet, ""
        self.line.append(text)

    def _bullet(self) -> str:
        indent = "  " * (len(self.lists) - 1)
        if not self.lists or not self.lists[-1]:
            return indent + "- "
        number = self.lists[-1][0]
        self.lists[-1][0] += 1
        return f"{indent}{number}. "

    def _end_block(self, *, soft: bool = False) -> None:
        """Close the paragraph being read; `soft` (a <br>) keeps the next line in it."""
        text = "".join(self.line)
        self.line = []
        if soft:
            self.line.append(text + "\n")
            return
        lines = (
            text.strip("\n").split("\n")
            if self.pre
            else [part.strip() for part in text.strip().split("\n")]
        )
        if any(lines):
            marker, self.marker = self.marker, ""
            hanging = " " * len(marker)
            lines = [marker + lines[0]] + [hanging + line for line in lines[1:]]
            quote = "> " * self.quotes
            in_list = self.lists_begun if marker else 0
            self.blocks.append(("\n".join(quote + line for line in lines), in_list))

    def text(self) -> str:
        self._end_block()
        out = ""
        for number, (block, in_list) in enumerate(self.blocks):
            if number:
                out += "\n" if in_list and in_list == self.blocks[number - 1][1] else "\n\n"
            out += block
        return out
