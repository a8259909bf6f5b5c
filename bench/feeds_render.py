"""Part (c) of the publisher benchmark: cold renders against plain lxml.

A `FeedDocument` of N entries goes through `formats.atom`, `formats.rss` and
`formats.json_feed` (feedgen for the XML ones), and the same Atom document is
written directly with lxml.etree as the baseline; the two Atom outputs are
checked to be the same XML before anything is timed.

Memory is measured twice because neither way sees everything: tracemalloc
(the brief's measure) sees only the Python heap, not libxml2's own mallocs, so
it under-counts every lxml tree; the growth of peak RSS in a fresh process
(`python bench/feeds_render.py FORMAT N`) sees both.
"""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

# The checkout this file is in, not whatever copy of syndicator the venv has installed:
# `python bench/feeds_render.py` puts bench/ first on the path, not the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndicator.feeds import formats

SIZES = (1_000, 10_000)
BASE = "https://blog.example.org"
CONTENT = (
    '<p>Entry {n}: <em>emphasis</em>, <code>code</code>, a <a href="{base}/bench/other/" '
    'rel="noopener noreferrer">link</a> &amp; <a href="https://example.org/page?q={n}&amp;x=1" '
    'rel="noopener noreferrer">another</a>.</p>\n'
) * 6
A = f"{{{formats.ATOM_NS}}}"


def document(size: int) -> formats.FeedDocument:
    """N entries shaped like real posts: full HTML content, an author, three tags."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    entries = tuple(
        formats.Entry(
            guid=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
            url=f"{BASE}/bench/post-{n}/",
            title=f"Post number {n}: on rivers & lakes",
            content_html=CONTENT.format(n=n, base=BASE),
            summary=None,
            published_at=start - timedelta(hours=n),
            updated_at=start - timedelta(hours=n) + timedelta(minutes=5),
            authors=(formats.Person("A. Writer"),),
            tags=tuple(formats.Tag(t, f"{BASE}/bench/tags/{t}/") for t in ("rivers", "lakes")),
        )
        for n in range(size)
    )
    return formats.FeedDocument(
        id=f"{BASE}/bench/",
        title="Bench",
        subtitle="Benchmark feed",
        language="en",
        html_url=f"{BASE}/bench/",
        self_url=f"{BASE}/bench/atom.xml",
        updated_at=entries[0].updated_at if entries else start,
        authors=(formats.Person("A. Writer", "writer@example.org"),),
        icon=None,
        entries=entries,
    )


def lxml_atom(doc: formats.FeedDocument) -> bytes:
    """The Atom document `formats.atom` writes, built by hand with lxml.etree."""
    feed = etree.Element(f"{A}feed", nsmap={None: formats.ATOM_NS})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", doc.language or "")
    _text(feed, "id", doc.id)
    _text(feed, "title", doc.title)
    _text(feed, "updated", _stamp(doc.updated_at))
    for person in doc.authors:
        _person(feed, person)
    _link(feed, doc.html_url, "alternate", formats.HTML_TYPE)
    _link(feed, doc.self_url, "self", formats.ATOM_TYPE)
    _text(feed, "generator", doc.generator)
    _text(feed, "subtitle", doc.subtitle or "")
    for entry in doc.entries:
        _entry(feed, entry)
    return etree.tostring(feed, pretty_print=True, encoding="UTF-8", xml_declaration=True)


def _entry(feed: etree._Element, entry: formats.Entry) -> None:
    node = etree.SubElement(feed, f"{A}entry")
    _text(node, "id", entry.guid)
    _text(node, "title", entry.title)
    _text(node, "updated", _stamp(entry.updated_at))
    for person in entry.authors:
        _person(node, person)
    _text(node, "content", entry.content_html or "").set("type", "html")
    _link(node, entry.url, "alternate", formats.HTML_TYPE)
    for tag in entry.tags:
        etree.SubElement(node, f"{A}category", term=tag.name, label=tag.name)
    _text(node, "published", _stamp(entry.published_at))


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    node = etree.SubElement(parent, A + name)
    node.text = value
    return node


def _person(parent: etree._Element, person: formats.Person) -> None:
    node = etree.SubElement(parent, f"{A}author")
    _text(node, "name", person.name)
    if person.email:
        _text(node, "email", person.email)


def _link(parent: etree._Element, href: str, rel: str, media_type: str) -> None:
    etree.SubElement(parent, f"{A}link", href=href, rel=rel, type=media_type)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


RENDERERS: dict[str, Callable[[formats.FeedDocument], bytes]] = {
    **formats.RENDERERS,
    "lxml-atom": lxml_atom,
}


def same_xml(left: bytes, right: bytes) -> bool:
    """Equal once indentation is ignored (C14N also fixes attribute order)."""
    parser = etree.XMLParser(remove_blank_text=True)
    trees = (etree.fromstring(data, parser) for data in (left, right))
    return len({etree.tostring(tree, method="c14n") for tree in trees}) == 1


Renderer = Callable[[formats.FeedDocument], bytes]


def seconds_per_render(render: Renderer, doc: formats.FeedDocument, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        render(doc)
        timings.append(time.perf_counter() - started)
    return min(timings)  # best of N: the least disturbed by whatever else runs


def tracemalloc_peak(render: Renderer, doc: formats.FeedDocument) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        render(doc)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rss_growth(fmt: str, size: int) -> int:
    """Peak-RSS growth of one render, in a fresh process so earlier renders don't hide it."""
    args = [sys.executable, __file__, fmt, str(size)]
    return int(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def _probe(fmt: str, size: int) -> None:
    doc = document(size)
    RENDERERS[fmt](document(10))  # imports and first-call set-up are not the render
    gc.collect()
    before = _peak_rss()
    RENDERERS[fmt](doc)
    print(_peak_rss() - before)


def _peak_rss() -> int:
    """VmHWM, not ru_maxrss: that one carries the parent's peak over fork and exec."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) * 1024  # type: ignore[union-attr]


def report(repeats: int) -> None:
    small = document(10)
    if not same_xml(formats.atom(small), lxml_atom(small)):
        raise RuntimeError("the lxml baseline no longer writes the document formats.atom writes")
    for render in RENDERERS.values():
        render(small)
    print(f"\n(c) cold render, FeedDocument -> bytes, no cache; time: best of {repeats}")
    print("    memory: tracemalloc peak (Python heap only) | peak RSS growth, fresh process\n")
    header = f"{'entries':>8} {'format':<10}{'ms/entry':>9}{'x lxml':>8}"
    print(header + f"{'tracemalloc':>13}{'x lxml':>8}{'RSS peak':>10}{'x lxml':>8}{'output':>9}")
    for size in SIZES:
        doc = document(size)
        rows = {fmt: _measure(fmt, render, doc, repeats) for fmt, render in RENDERERS.items()}
        base = rows["lxml-atom"]
        for fmt, (took, traced, rss, out) in rows.items():
            print(
                f"{size:>8} {fmt:<10}{took / size * 1000:>9.3f}{took / base[0]:>8.1f}"
                f"{traced / 2**20:>10.1f} MB{traced / base[1]:>8.1f}"
                f"{rss / 2**20:>7.1f} MB{rss / max(base[2], 1):>8.1f}{out / 2**20:>6.1f} MB"
            )


def _measure(
    fmt: str, render: Renderer, doc: formats.FeedDocument, repeats: int
) -> tuple[float, int, int, int]:
    """(seconds, tracemalloc peak, RSS growth, output bytes) of one render."""
    return (
        seconds_per_render(render, doc, repeats),
        tracemalloc_peak(render, doc),
        rss_growth(fmt, len(doc.entries)),
        len(render(doc)),
    )


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _probe(sys.argv[1], int(sys.argv[2]))
    else:
        report(int(sys.argv[1]) if len(sys.argv) == 2 else 3)
