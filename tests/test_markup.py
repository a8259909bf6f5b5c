"""Markdown and HTML sanitizing: nothing that runs script survives."""

import pytest

from syndicator import markup, xmltext


@pytest.mark.parametrize(
    "dangerous",
    [
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        '<img src="x.png" onerror="alert(1)">',
        '<p onclick="alert(1)">x</p>',
        "<iframe src='https://evil.example'></iframe>",
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        "<style>body{}</style>",
    ],
)
def test_script_never_survives_markdown_or_html(dangerous: str):
    for html in (markup.render_markdown(dangerous), markup.sanitize(dangerous)):
        lowered = html.lower()
        assert "<script" not in lowered
        assert "javascript:" not in lowered
        assert "onerror" not in lowered and "onclick" not in lowered
        assert "<iframe" not in lowered and "<style" not in lowered


def test_markdown_keeps_paragraphs_quotes_lists_and_emphasis():
    html = markup.render_markdown("One\n\n> quoted\n\n- a\n- b\n\n**bold** and *it*")
    for fragment in (
        "<p>One</p>",
        "<blockquote>",
        "<li>a</li>",
        "<strong>bold</strong>",
        "<em>it</em>",
    ):
        assert fragment in html


def test_relative_links_and_images_become_absolute_against_the_post():
    html = markup.render_markdown("[up](../other/) [here](sub/page) ![i](/img/a.png) [f](#note)")
    absolute = markup.absolutize(html, "https://blog.example/news/post/")
    assert 'href="https://blog.example/news/other/"' in absolute
    assert 'href="https://blog.example/news/post/sub/page"' in absolute
    assert 'src="https://blog.example/img/a.png"' in absolute
    assert 'href="https://blog.example/news/post/#note"' in absolute


def test_absolute_links_are_left_alone():
    html = markup.render_markdown("[x](https://example.org/a) [m](mailto:a@example.org)")
    absolute = markup.absolutize(html, "https://blog.example/news/post/")
    assert 'href="https://example.org/a"' in absolute
    assert 'href="mailto:a@example.org"' in absolute


def test_links_carry_no_rel_and_cannot_open_a_window():
    """No `target` survives, so no link needs `noopener`; the author's own rel goes too."""
    markdown = markup.render_markdown("[x](https://example.org/a)")
    assert '<a href="https://example.org/a">x</a>' in markdown
    raw = markup.sanitize(
        '<a href="https://example.org/b" target="_blank" rel="opener">y</a>'
        '<form target="_blank"><button formtarget="_blank">z</button></form>'
    )
    assert raw == '<a href="https://example.org/b">y</a>z'


@pytest.mark.parametrize(
    "char", ["\x00", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\ud800", "\ufffe", "\uffff"]
)
def test_characters_xml_forbids_are_removed(char: str):
    assert xmltext.clean(f"a{char}b") == "ab"


def test_tab_newline_and_ordinary_unicode_are_kept():
    text = "tab\there\nnew line\r\n café “quotes” 🐬"
    assert xmltext.clean(text) == text


def test_excerpt_cuts_at_a_word_boundary():
    text = markup.excerpt("<p>" + "word " * 100 + "</p>", limit=30)
    assert text.endswith("…")
    assert len(text) <= 31
    assert "  " not in text
