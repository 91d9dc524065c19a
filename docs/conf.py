"""Sphinx configuration of trustfit's documentation (``make docs``; every warning is an
error there)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import trustfit  # noqa: E402
import api_pages  # noqa: E402

project = "trustfit"
author = "the trustfit developers"
copyright = "the trustfit developers"
release = version = trustfit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",   # MathJax served from the site itself: formulas render offline
    "docstring_style",          # before numpydoc: descriptions on a parameter's first line
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "failure_pages",
    "executed_code",            # executed-code: Python run at build time on prose pages
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "sg_execution_times.rst"]
root_doc = "index"

# The API reference: one page per module, written from the modules' __all__ before Sphinx
# reads the sources (docs/_ext/api_pages.py); autosummary writes a stub per name.
api_pages.write_pages(HERE / "api" / "generated")
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"           # the numpydoc sections say the types, in words
numpydoc_show_class_members = False  # members are documented by the class template
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The gallery and the tutorial: every example is executed at build time and its figures
# (and the GIF animations trustfit writes, gallery_hooks.gif_scraper) are rendered.
sphinx_gallery_conf = {
    "examples_dirs": ["tutorials", "examples"],
    "gallery_dirs": ["tutorial", "auto_examples"],
    "filename_pattern": r"/plot_",
    "image_scrapers": ("matplotlib", "gallery_hooks.gif_scraper"),
    "remove_config_comments": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 0,
    "show_memory": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "capture_repr": (),                 # printed output only, not the last expression's repr
}

html_theme = "pydata_sphinx_theme"
html_title = f"trustfit {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# The left sidebar only where there is a section to navigate (the API reference): the
# other pages get the width for their code and tables.
html_sidebars = {page: [] for page in ("index", "getting_started", "failures", "certified",
                                        "global_fits", "performance", "tutorial/*",
                                        "auto_examples/*")}
html_show_sourcelink = False
