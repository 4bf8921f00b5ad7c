"""Sphinx configuration of the sktvnet documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (``tox -e docs``). Figures, the API lists,
the command-line help and the benchmark tables are generated at build time by ``_ext/sktvnet_docs``
into ``docs/_generated/`` (not kept in git).
"""

import os
import sys

sys.path.insert(0, os.path.abspath("_ext"))
# Documentation builds never compile TVNet: a few small eager runs make the figures.
os.environ.setdefault("SKTVNET_COMPILE", "0")

import sktvnet  # noqa: E402

project = "sktvnet"
author = "sktvnet developers"
copyright = "sktvnet developers, BSD-3-Clause"
release = sktvnet.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sktvnet_docs",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.extlinks",
    "sphinx.ext.mathjax",
    "numpydoc",
]

# Docstrings cite papers with :doi:`...`.
extlinks = {"doi": ("https://doi.org/%s", "doi:%s")}

autosummary_generate = False  # the API pages list autodoc entries themselves (_ext)
autodoc_typehints = "none"  # numpydoc's Parameters sections already give the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# _generated holds fragments that pages include, not pages of their own.
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
templates_path = []
html_theme = "alabaster"
html_static_path = []
html_title = f"sktvnet {release}"
html_theme_options = {"description": "TVNet and TV-L1 optical flow for scikit-learn users",
                      "page_width": "1100px", "sidebar_width": "230px"}
