"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html`` (tests/test_docs.py
builds it this way in the test suite, so a broken reference or a missing page fails CI)."""

import os
import sys
from pathlib import Path

import django

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]
# autodoc imports the package's modules, and they need configured settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django_smsc_status import __version__  # noqa: E402

project = "django-smsc-status"
author = "django-smsc-status developers"
copyright = "django-smsc-status developers"
version = release = __version__

extensions = ["sphinx.ext.autodoc", "smsc_settings"]
exclude_patterns = ["_build", "snippets", "**/README*"]
# The PNG screenshots sit in docs/ (tests/test_browser.py writes them there).
html_theme = "alabaster"
html_theme_options = {
    "description": "SMS delivery status from SMSC's SOAP API",
    "page_width": "1140px",  # room for 88-column snippets beside the sidebar
    "sidebar_width": "230px",
    "fixed_sidebar": True,
    "github_button": False,  # an external image: the docs need no network
    "extra_nav_links": {"Source on GitHub": "https://github.com/django-smsc-status/django-smsc-status"},
}
html_title = f"django-smsc-status {release}"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}
suppress_warnings: list[str] = []
