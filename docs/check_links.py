"""Check every internal link of the built site: ``python docs/check_links.py docs/_build/html``.

Sphinx's ``-W`` catches a cross-reference it cannot resolve, but not a plain link that
points nowhere (a raw ``.. _label`` typo inside a literal, an image a theme template
names, a ``#fragment`` whose anchor moved). This reads every HTML page of the build and
checks each ``href`` and ``src`` that stays inside the site: the file exists, and a
``#fragment`` names an ``id`` (or ``name``) in it. External links (``http:``,
``https:``, ``mailto:``) are not followed: the build runs without the network. Exit code 1
with one line per broken link, else 0 with the counts.
"""
from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL = ("http", "https", "mailto", "data", "javascript", "ftp")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag != "meta" else ():
            if attrs.get(key):
                self.anchors.add(attrs[key])
        for key in ("href", "src"):
            value = attrs.get(key)
            if value and not (tag == "link" and attrs.get("rel") in ("preconnect",
                                                                      "dns-prefetch")):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(root: Path) -> tuple[list[str], int, int]:
    """(broken links as lines, pages read, internal links checked)."""
    # _static holds the theme's assets (its Jinja macro files end in .html too), not pages.
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    parsed: dict[Path, _Page] = {}

    def page(path: Path) -> _Page:
        if path not in parsed:
            parsed[path] = _parse(path)
        return parsed[path]

    broken, checked = [], 0
    for path in pages:
        for link in page(path).links:
            parts = urlsplit(link)
            if parts.scheme in EXTERNAL or parts.netloc or link.startswith("//"):
                continue
            checked += 1
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(root)}: {link} (no such file)")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in page(target).anchors:
                broken.append(f"{path.relative_to(root)}: {link} (no anchor #{fragment})")
    return broken, len(pages), checked


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/check_links.py BUILD_DIR", file=sys.stderr)
        return 2
    root = Path(argv[0]).resolve()
    if not (root / "index.html").exists():
        print(f"check_links: {root} holds no built site (no index.html)", file=sys.stderr)
        return 2
    broken, n_pages, n_links = broken_links(root)
    for line in broken:
        print("broken link:", line)
    print(f"check_links: {n_pages} pages, {n_links} internal links, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
