"""The audience chart as a small SVG: axes, labels, a title and description, a line per source.

Built with ElementTree, so a feed title with markup in it stays text. The
description states the figures themselves, so a screen reader gets what the
picture shows.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

from syndicator.stats.audience import SOURCES, Day

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 190, 40, 44
COLOURS = {
    "audience": "#111111",
    "aggregators": "#1f77b4",
    "pollers": "#ff7f0e",
    "email": "#2ca02c",
    "webhooks": "#9467bd",
    "websub": "#8c564b",
}
LABELS = {
    "audience": "audience (total)",
    "aggregators": "aggregator subscribers",
    "pollers": "direct pollers",
    "email": "email subscribers",
    "webhooks": "webhook endpoints",
    "websub": "WebSub subscriptions",
}
_NS = "http://www.w3.org/2000/svg"


def svg(feed: str, days: list[Day]) -> bytes:
    """The chart of `days` (oldest first, at least one)."""
    top = _nice_top(max(day.audience for day in days))
    root = ET.Element("svg")
    _set(root, xmlns=_NS, width=WIDTH, height=HEIGHT, viewBox=f"0 0 {WIDTH} {HEIGHT}", role="img")
    _set(root, aria_labelledby="title desc", font_family="sans-serif", font_size=12)
    title = f"Audience of {feed}, {days[0].day.isoformat()} to {days[-1].day.isoformat()}"
    _add(root, "title", title, id="title")
    _add(root, "desc", _description(days), id="desc")
    _add(root, "rect", width=WIDTH, height=HEIGHT, fill="#ffffff")
    _add(root, "text", title, x=LEFT, y=22, font_size=14)
    _axes(root, days, top)
    for name in ("audience", *SOURCES):
        values = [day.audience if name == "audience" else day.source(name) for day in days]
        _line(root, name, values, top)
    _legend(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _set(element: ET.Element, **attributes: object) -> ET.Element:
    """Attributes as keywords: `font_size=12` becomes font-size="12"."""
    for name, value in attributes.items():
        element.set(
            name.replace("_", "-"), f"{value:.1f}" if isinstance(value, float) else str(value)
        )
    return element


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    element = _set(ET.SubElement(parent, tag), **attributes)
    element.text = text
    return element


def _description(days: list[Day]) -> str:
    last = days[-1]
    parts = ", ".join(f"{LABELS[name]} {last.source(name)}" for name in SOURCES)
    peak = max(days, key=lambda day: day.audience)
    return (
        f"{len(days)} days. On {last.day.isoformat()} the audience was {last.audience}: {parts}. "
        f"Highest: {peak.audience} on {peak.day.isoformat()}."
    )


def _nice_top(value: int) -> int:
    """A round number at or above `value` for the top of the y axis."""
    if value <= 4:
        return 4
    magnitude = 10 ** math.floor(math.log10(value))
    return next(int(step * magnitude) for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value)


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(value: int, top: int) -> float:
    return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / top


def _axes(root: ET.Element, days: list[Day], top: int) -> None:
    bottom, right, middle = HEIGHT - BOTTOM, WIDTH - RIGHT, (TOP + HEIGHT - BOTTOM) / 2
    axis: dict[str, Any] = {"stroke": "#444444", "stroke_width": 1}
    _add(root, "line", x1=LEFT, y1=TOP, x2=LEFT, y2=bottom, **axis)
    _add(root, "line", x1=LEFT, y1=bottom, x2=right, y2=bottom, **axis)
    for tick in range(5):
        value = top * tick // 4
        y = _y(value, top)
        _add(root, "line", x1=LEFT - 4, y1=y, x2=LEFT, y2=y, **axis)
        _add(root, "text", str(value), x=LEFT - 8, y=y + 4, text_anchor="end")
    for index in sorted({0, len(days) // 2, len(days) - 1}):
        x = _x(index, len(days))
        _add(root, "line", x1=x, y1=bottom, x2=x, y2=bottom + 4, **axis)
        label = days[index].day.isoformat()
        _add(root, "text", label, x=x, y=bottom + 18, text_anchor="middle")
    _add(root, "text", "day", x=(LEFT + right) / 2, y=HEIGHT - 6, text_anchor="middle")
    turned = f"rotate(-90 14 {middle:.1f})"
    _add(root, "text", "people", x=14, y=middle, text_anchor="middle", transform=turned)


def _line(root: ET.Element, name: str, values: list[int], top: int) -> None:
    points = " ".join(f"{_x(i, len(values)):.1f},{_y(v, top):.1f}" for i, v in enumerate(values))
    width = 2.5 if name == "audience" else 1.5
    line = _add(root, "polyline", points=points, fill="none", stroke=COLOURS[name])
    _set(line, stroke_width=width, **{"class": name})
    _add(line, "title", LABELS[name])


def _legend(root: ET.Element) -> None:
    x = WIDTH - RIGHT + 14
    for row, name in enumerate(("audience", *SOURCES)):
        y = TOP + 8 + row * 20
        _add(root, "line", x1=x, y1=y, x2=x + 18, y2=y, stroke=COLOURS[name], stroke_width=2.5)
        _add(root, "text", LABELS[name], x=x + 24, y=y + 4)
