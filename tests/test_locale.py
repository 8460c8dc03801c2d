"""The Russian catalogue: placeholders kept, no translation saying something else, nothing missing."""

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import polib
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "django_smsc_status"
LOCALE = PACKAGE / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")

#: Different msgids that mean the same thing in Russian (checked by a reader, not by a script).
SAME_MEANING: list[set[str]] = [
    {"sent message", "sent messages"},  # "SMS" does not decline: right after any number
    {"Per day", "by day"},  # a heading and a CSV link: "по дням" both
]


def entries():
    """(msgid, msgid_plural or None, translation) for every form of every entry, read with a
    real .po parser (``makemessages`` wraps long entries over several lines)."""
    for entry in polib.pofile(str(LOCALE / "ru" / "LC_MESSAGES" / "django.po")).translated_entries():
        if entry.msgid_plural:
            for text in entry.msgstr_plural.values():
                yield entry.msgid, entry.msgid_plural, text
        else:
            yield entry.msgid, None, entry.msgstr


def catalogue() -> dict:
    return {msgid: text for msgid, plural, text in entries() if plural is None}


def test_translations_keep_their_placeholders():
    wrong = []
    for msgid, plural, text in entries():
        expected = set(PLACEHOLDER.findall(msgid)) | set(PLACEHOLDER.findall(plural or ""))
        if set(PLACEHOLDER.findall(text)) != expected:
            wrong.append((msgid, text))
    assert wrong == []


def test_no_two_msgids_share_a_translation_unless_they_mean_the_same():
    by_text = defaultdict(set)
    for msgid, _plural, text in entries():
        by_text[text.casefold()].add(msgid)
    shared = [
        ids for ids in by_text.values() if len({i.casefold() for i in ids}) > 1 and ids not in SAME_MEANING
    ]
    assert shared == []


def test_the_known_mistranslations_are_gone():
    ru = dict(catalogue())
    assert ru["delivery error"] == "ошибка доставки"  # was "Доставлено" (delivered)
    assert ru["Any error"] == "Любая ошибка"  # was "Нет ошибки" (no error)
    assert ru["Unknown code"] == "Неизвестный код"  # was "… %(code)s", shown raw


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("xgettext", "msgmerge", "msgattrib")),
    reason="gettext tools not installed",
)
def test_every_string_in_the_code_is_translated(tmp_path):
    copy = tmp_path / "django_smsc_status"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    command = [sys.executable, "-m", "django"]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    made = subprocess.run(
        [*command, "makemessages", "-l", "ru", "--no-location"],
        cwd=copy,
        capture_output=True,
        text=True,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    po = copy / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    missing = subprocess.run(
        ["msgattrib", "--untranslated", "--no-obsolete", str(po)], capture_output=True, text=True, check=True
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", "--no-obsolete", str(po)], capture_output=True, text=True, check=True
    ).stdout
    assert missing + fuzzy == ""  # msgattrib prints nothing when every entry is translated
