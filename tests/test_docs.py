"""The README's settings reference matches conf.py, and the version is in one place."""

import re
from pathlib import Path

from django_smsc_status import __version__
from django_smsc_status.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.rst").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    following = re.search(r"\n[^\n]+\n=+\n", README[start + len(title) + 2 :])
    return README[start : start + len(title) + 2 + (following.start() if following else len(README))]


def test_settings_reference_lists_exactly_the_real_keys():
    table = section("Settings reference")
    documented = set(re.findall(r"^``([A-Z_]+)``", table, flags=re.MULTILINE))
    assert documented == set(DEFAULTS)


def test_documented_defaults_match():
    table = section("Settings reference")
    for key, default in DEFAULTS.items():
        row = re.search(rf"^``{key}``\s+(\S+)", table, flags=re.MULTILINE).group(1)
        shown = {None: "``None``", (): "``()``", "": '``""``'}.get(
            default if not isinstance(default, dict) else repr(default), f"``{default}``"
        )
        assert row == shown, key


def test_changelog_sections_name_versions_and_the_newest_is_the_package_version():
    """Each section is headed ``X.Y.Z (unreleased | not published | YYYY-MM-DD)``; the first is
    ``__version__`` (a "0.1.0" mentioned anywhere else proves nothing)."""
    changelog = (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    headings = re.findall(r"^(.+)\n=+\n", changelog, flags=re.MULTILINE)[1:]  # [0]: the title
    assert headings, "no section"
    versions = [
        re.fullmatch(r"(\d+\.\d+\.\d+) \((?:unreleased|not published|\d{4}-\d\d-\d\d)\)", h) for h in headings
    ]
    assert all(versions), [h for h, v in zip(headings, versions, strict=True) if not v]
    assert versions[0].group(1) == __version__
    assert len({v.group(1) for v in versions}) == len(versions), "a version heads two sections"


def test_readme_test_command_is_what_ci_runs():
    """The exact ``runtests.py`` command line ``.ci/run`` runs is in the README as a command, and
    every sentence saying what ``.ci/run`` runs names that line, options included (the words
    "python3 runtests.py" alone were in both files while the README named a removed option)."""
    assert "python3 runtests.py" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 runtests.py" in ci
    [command] = re.findall(r"^(python3 runtests\.py.*?)\s*$", ci, flags=re.MULTILINE)
    assert re.search(rf"^ +{re.escape(command)}$", README, flags=re.MULTILINE), command
    said = [
        re.search(r"``(python3 runtests\.py[^`]*)``", paragraph.split("``.ci/run``", 1)[1])
        for paragraph in README.split("\n\n")
        if "``.ci/run``" in paragraph
    ]
    named = [match.group(1) for match in said if match]
    assert named and set(named) == {command}, named
    assert "python3 example_project/demo.py" in README


def test_readme_renders_without_warnings():
    import io

    import docutils.core

    errors = io.StringIO()
    docutils.core.publish_string(
        README, writer="null", settings_overrides={"report_level": 2, "warning_stream": errors}
    )
    assert errors.getvalue() == ""


def test_service_all_is_the_documented_api():
    """``service.__all__`` names exactly the ``service.<name>`` the README documents."""
    from django_smsc_status import service

    documented = set(re.findall(r"\bservice\.([a-z_]+)\b", README))
    assert set(service.__all__) == documented
    assert all(callable(getattr(service, name)) for name in service.__all__)
