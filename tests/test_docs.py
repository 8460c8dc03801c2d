"""The documentation works when pasted: the docs site builds with warnings as errors, its
settings reference matches conf.py, every Python snippet is a file in ``docs/snippets/`` that a
test here executes (the install snippets on a fresh ``startproject``, the testing example as a
user runs it, the service API against the simulator), the README is a package-index page, and
the version is in one place."""

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from django_smsc_status import __version__
from django_smsc_status.conf import DEFAULTS, account_names, get_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
README = (ROOT / "README.rst").read_text(encoding="utf-8")
SETTINGS_PAGE = (DOCS / "reference" / "settings.rst").read_text(encoding="utf-8")
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
PROJECT_URL = "https://github.com/django-smsc-status/django-smsc-status"
# What needs no database runs once, in the SQLite pass of the test command.
once = pytest.mark.skipif(
    os.environ.get("SMSC_TEST_DB") == "postgres", reason="runs in the SQLite pass of the test command"
)

# Every Python snippet the docs include, and the test below that executes it.
EXECUTED = {
    "settings_append.py": "test_quickstart_in_a_fresh_project",
    "urls_append.py": "test_quickstart_in_a_fresh_project",
    "conftest.py": "test_testing_example_passes_as_a_user_runs_it",
    "test_delivery.py": "test_testing_example_passes_as_a_user_runs_it",
    "pytest.ini": "test_testing_example_passes_as_a_user_runs_it",
    "service_api.py": "test_service_api_snippet_runs_against_the_simulator",
    "views_wait.py": "test_wait_for_status_view_runs_against_the_simulator",
    "accounts_settings.py": "test_accounts_snippet_is_valid_settings",
}


def settings_table() -> str:
    """The hand-written table of docs/reference/settings.rst: border, header, border, rows, border."""
    lines = SETTINGS_PAGE.splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line)]
    return "\n".join(lines[borders[0] : borders[2] + 1])


def test_settings_reference_lists_exactly_the_real_keys():
    documented = set(re.findall(r"^``([A-Z_]+)``", settings_table(), flags=re.MULTILINE))
    assert documented == set(DEFAULTS)


def test_documented_defaults_match():
    for key, default in DEFAULTS.items():
        row = re.search(rf"^``{key}``\s+(\S+)", settings_table(), flags=re.MULTILINE).group(1)
        shown = {None: "``None``", (): "``()``", "": '``""``'}.get(
            default if not isinstance(default, dict) else repr(default), f"``{default}``"
        )
        assert row == shown, key


def test_settings_page_shows_the_generated_summary():
    """Type, default, floor and scope of every key come from conf.py itself (docs/_ext)."""
    assert ".. smsc-settings-summary::" in SETTINGS_PAGE


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
    assert sum("unreleased" in h.lower() for h in headings) == 1, headings


@pytest.mark.parametrize("name", ["README.rst", "docs/development.rst"])
def test_test_command_is_what_ci_runs(name):
    """The exact ``runtests.py`` command line ``.ci/run`` runs is in the README and the
    development page as a command, and every sentence saying what ``.ci/run`` runs names that
    line, options included (the words "python3 runtests.py" alone were in both files while the
    README named a removed option)."""
    text = (ROOT / name).read_text(encoding="utf-8")
    assert "python3 runtests.py" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 runtests.py" in ci
    [command] = re.findall(r"^(python3 runtests\.py.*?)\s*$", ci, flags=re.MULTILINE)
    assert re.search(rf"^ +{re.escape(command)}$", text, flags=re.MULTILINE), command
    said = [
        re.search(r"``(python3 runtests\.py[^`]*)``", paragraph.split("``.ci/run``", 1)[1])
        for paragraph in text.split("\n\n")
        if "``.ci/run``" in paragraph
    ]
    named = [match.group(1) for match in said if match]
    assert named and set(named) == {command}, named


@pytest.mark.parametrize("name", ["README.rst", "docs/demo.rst"])
def test_demo_command_is_documented(name):
    """(tests/test_demo.py runs it.)"""
    assert "python3 example_project/demo.py" in (ROOT / name).read_text(encoding="utf-8")


def test_readme_renders_without_warnings():
    import docutils.core
    from docutils.writers.null import Writer  # an instance: every docutils version takes one

    errors = io.StringIO()
    docutils.core.publish_string(
        README, writer=Writer(), settings_overrides={"report_level": 2, "warning_stream": errors}
    )
    assert errors.getvalue() == ""


def test_service_all_is_the_documented_api():
    """``service.__all__`` names exactly the functions the Python API reference documents as
    the service (its "The service" section)."""
    from django_smsc_status import service

    page = (DOCS / "reference" / "service.rst").read_text(encoding="utf-8")
    part = page[page.index("The service\n") : page.index("\nResults\n")]
    documented = set(re.findall(r"^\.\. autofunction:: django_smsc_status\.\w+\.(\w+)$", part, re.MULTILINE))
    assert set(service.__all__) == documented
    assert all(callable(getattr(service, name)) for name in service.__all__)


def test_readme_is_a_package_index_page():
    """Short, and every link and image absolute: the package index shows it without the repo."""
    assert len(README.splitlines()) <= 200
    targets = [
        *re.findall(r"<([^<>\s]+)>`_", README),  # `text <url>`_
        *re.findall(r"^\.\. _[^:]+: (\S+)$", README, flags=re.MULTILINE),  # .. _text: url
        *re.findall(r"^\.\. (?:image|figure):: (\S+)", README, flags=re.MULTILINE),
    ]
    assert targets
    relative = [t for t in targets if not t.startswith("https://")]
    assert not relative, relative
    assert f"{PROJECT_URL}/blob/main/docs/quickstart.rst" in README
    # The README's links into the repository (docs pages, screenshots) name files that exist.
    raw = PROJECT_URL.replace("github.com", "raw.githubusercontent.com")
    into_repo = [
        re.sub(rf"^({re.escape(PROJECT_URL)}/(?:blob|tree)|{re.escape(raw)})/main/", "", t)
        for t in targets
        if t.startswith((PROJECT_URL + "/", raw + "/"))
    ]
    assert len(into_repo) > 10
    assert [t for t in into_repo if not (ROOT / t).exists()] == []


def test_every_python_snippet_is_an_executed_file():
    """No Python in the docs but files of docs/snippets, each run by a test in this module."""
    included = set()
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(ROOT)
        assert not re.search(r"^\.\. (?:code-block|code|sourcecode):: *python", text, re.M), where
        for target in re.findall(r"^\.\. literalinclude:: (\S+)", text, flags=re.MULTILINE):
            path = (page.parent / target).resolve()
            assert path.parent == SNIPPETS, (where, target)
            included.add(path.name)
    assert (
        included
        == set(EXECUTED)
        == {p.name for p in SNIPPETS.iterdir() if p.is_file() and p.name != "ruff.toml"}
    )
    tests = {name for name, value in globals().items() if name.startswith("test_") and callable(value)}
    assert set(EXECUTED.values()) <= tests


def test_every_page_is_in_a_toctree():
    """(sphinx-build -W fails on an orphan too; this says which, without building.)"""
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in PAGES if p.parent != SNIPPETS}
    listed = {"index"}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^\.\. toctree::\n((?:(?: +.*)?\n)+)", text, flags=re.MULTILINE):
            base = page.parent.relative_to(DOCS)
            for entry in re.findall(r"^ +([^:\s][^\s]*)$", block, flags=re.MULTILINE):
                listed.add((base / entry).as_posix().removeprefix("./"))
    assert pages - listed == set()


@once
def test_docs_build_with_warnings_as_errors(tmp_path):
    """What CI's docs build is: ``sphinx-build -W`` (a broken reference, a missing page, a bad
    docstring in the API reference fail), with the HTML and the generated settings table there."""
    pytest.importorskip("sphinx", reason="the docs extra (pip install -e .[docs])")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", DOCS, tmp_path],
        capture_output=True,
        text=True,
        env=_env(DJANGO_SETTINGS_MODULE="tests.settings"),
    )
    assert build.returncode == 0, build.stderr[-3000:]
    settings_html = (tmp_path / "reference" / "settings.html").read_text(encoding="utf-8")
    for key in DEFAULTS:
        assert f">{key}<" in settings_html, key
    assert (tmp_path / "ru" / "quickstart.html").is_file()
    assert "SmscError" in (tmp_path / "reference" / "service.html").read_text(encoding="utf-8")


# -- the snippets, executed ----------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no test settings, the checkout's package first."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SMSC_PASSWORD")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env | extra


def _manage(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=120,
    )


def _startproject(tmp_path: Path) -> Path:
    """``django-admin startproject mysite .`` with the quickstart's two snippets pasted in."""
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", "."], cwd=project, check=True, env=_env()
    )
    for snippet, target in (("settings_append.py", "settings.py"), ("urls_append.py", "urls.py")):
        with (project / "mysite" / target).open("a", encoding="utf-8") as out:
            out.write("\n" + (SNIPPETS / snippet).read_text(encoding="utf-8"))
    return project


@once
def test_quickstart_in_a_fresh_project(tmp_path):
    """docs/quickstart.rst, step by step, on what ``startproject`` makes today."""
    from django_smsc_status.simulator import SimulatorServer
    from django_smsc_status.simulator.smsc import Smsc

    project = _startproject(tmp_path)
    # No password in the environment: a check error naming the key, not a KeyError/NameError.
    missing = _manage(project, "check")
    assert missing.returncode != 0
    assert "smsc_status.E001" in missing.stderr and "PASSWORD" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr
    # With one: the quickstart's check, migrate and schedule (one process: call_command, to
    # keep the test short), then Russian from Accept-Language (LocaleMiddleware is in place).
    script = (
        "from django.core.management import call_command; from django.test import Client; "
        "call_command('check'); call_command('migrate', verbosity=0); "
        "call_command('smsc_status', 'schedule'); "
        "r = Client(HTTP_HOST='localhost').get('/api/smsc/messages/', HTTP_ACCEPT_LANGUAGE='ru'); "
        "print(r.status_code, r.json()['detail'])"
    )
    done = _manage(project, "shell", "-c", script, SMSC_PASSWORD="s3cret")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout and "Created schedule" in done.stdout, done.stdout
    assert re.search(r"^40[13] [а-яА-Я]", done.stdout, flags=re.MULTILINE), done.stdout
    # The first refreshed message, against the simulator (its clock moved instead of `sleep 15`).
    with SimulatorServer(Smsc({"demo": "demo"})) as simulator:
        env = {"SMSC_LOGIN": "demo", "SMSC_PASSWORD": "demo", "SMSC_ENDPOINT": simulator.endpoint}
        sent = _manage(project, "smsc_status", "send", "79991234567", "Hello", **env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        simulator.smsc.advance(20)
        refreshed = _manage(project, "smsc_status", "refresh", "--all", "--no-progress", **env)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        assert "1 status changed" in refreshed.stdout, refreshed.stdout


@once
def test_testing_example_passes_as_a_user_runs_it(tmp_path):
    """docs/guides/testing.rst: conftest.py, pytest.ini and the test, run with plain ``pytest``
    in the project (pytest-django: the ``testing`` extra)."""
    project = _startproject(tmp_path)
    for name in ("conftest.py", "pytest.ini", "test_delivery.py"):
        shutil.copy(SNIPPETS / name, project / name)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=project,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout


def _run_snippet(name: str) -> dict:
    code = compile((SNIPPETS / name).read_text(encoding="utf-8"), str(SNIPPETS / name), "exec")
    namespace: dict = {"__name__": f"snippet_{name[:-3]}"}
    exec(code, namespace)  # noqa: S102 - our own documentation
    return namespace


@pytest.mark.django_db
def test_service_api_snippet_runs_against_the_simulator(smsc_settings, smsc_simulator):
    """docs/guides/sending.rst: every line of the service API example, as written."""
    smsc_simulator.smsc.add_message("79991234567", smsc_id="12345")
    namespace = _run_snippet("service_api.py")
    assert namespace["created"] and namespace["result"].outcome in {"changed", "unchanged"}
    assert len(namespace["messages"]) == 1 and len(namespace["results"]) == 2


@pytest.mark.django_db(transaction=True)  # it refuses to wait inside a transaction
def test_wait_for_status_view_runs_against_the_simulator(smsc_settings, smsc_simulator, rf, monkeypatch):
    """docs/guides/worker.rst: the one-time-code view; delivered at once, so no wait."""
    from django_smsc_status.simulator import timeline

    smsc_settings["FIRST_CHECK_AFTER"] = 0
    monkeypatch.setattr(smsc_simulator.smsc, "timeline_for", lambda phone, text: timeline((1, 0, 0)))
    send_code = _run_snippet("views_wait.py")["send_code"]
    response = send_code(rf.post("/code/", {"phone": "+7 999 123-45-67"}))
    assert response.status_code == 200 and b'"sent": "sms"' in response.content
    assert b"offer_call" not in response.content


def test_accounts_snippet_is_valid_settings():
    """docs/guides/accounts.rst: three accounts, valid as written (passwords from the env)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("SMSC_PASSWORD", "SMSC_KZ_PASSWORD", "SMSC_MKT_PASSWORD"):
            env.setenv(name, "pw-" + name.lower())
        smsc_status = _run_snippet("accounts_settings.py")["SMSC_STATUS"]
    with override_settings(SMSC_STATUS=smsc_status):
        assert set(account_names()) == {"default", "kz", "marketing"}
        kz = get_settings("kz")
        assert (kz.login, kz.default_region, kz.timeout) == ("shop-kz", "KZ", 10.0)
        assert get_settings("marketing").endpoint == DEFAULTS["ENDPOINT"]
