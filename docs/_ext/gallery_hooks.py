"""sphinx-gallery hooks for trustfit's documentation.

``gif_scraper``: trustfit writes its animations as GIF files (:func:`trustfit.plots.animate_fit`,
through Pillow, faster than matplotlib's writers), not as matplotlib ``Animation`` objects
that sphinx-gallery can scrape. An example that writes ``*.gif`` into its working folder
(sphinx-gallery runs each example in its source folder) has each new file moved into the
gallery's image folder and shown below the code block that wrote it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst


def gif_scraper(block, block_vars, gallery_conf, **kwargs):
    folder = Path(block_vars["src_file"]).parent
    moved = []
    for gif in sorted(folder.glob("*.gif")):
        target = Path(next(iter(block_vars["image_path_iterator"]))).with_suffix(".gif")
        shutil.move(str(gif), target)
        moved.append(str(target))
    return figure_rst(moved, gallery_conf["src_dir"]) if moved else ""
