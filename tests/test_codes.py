from django.utils import translation

from django_smsc_status.codes import (
    DeliveryError,
    MessageStatus,
    RequestError,
    describe,
    is_final_status,
)


def test_known_status_has_label_and_finality():
    delivered = describe(MessageStatus, 1)
    assert delivered.label == "Delivered"
    assert delivered.is_known and delivered.is_final and delivered.is_success
    waiting = describe(MessageStatus, -1)
    assert not waiting.is_final and not waiting.is_success


def test_failures_are_final_but_not_success():
    for code in (3, 20, 22, 23, 24, 25):
        info = describe(MessageStatus, code)
        assert info.is_final and not info.is_success, code


def test_pending_statuses_are_not_final():
    for code in (-3, -2, -1, 0):
        assert not is_final_status(code)


def test_unknown_codes_never_raise():
    for vocabulary in (MessageStatus, DeliveryError, RequestError):
        info = describe(vocabulary, 31337)
        assert info.code == 31337
        assert not info.is_known and not info.is_final
        assert "31337" in info.label


def test_unknown_status_keeps_polling():
    assert not is_final_status(77)


def test_none_means_not_checked():
    info = describe(MessageStatus, None)
    assert info.code is None and info.label == "Not checked yet"


def test_russian_labels():
    with translation.override("ru"):
        assert describe(MessageStatus, 1).label == "Доставлено"
        assert describe(DeliveryError, 1).label == "Абонент не существует"
        assert describe(RequestError, 9).label.startswith("Слишком много запросов")
        assert describe(MessageStatus, 77).label == "Неизвестный код 77"


def test_every_documented_err_code_is_known():
    documented = {0, 1, 6, 11, 12, 13, 21, 200, 219, 220, *range(237, 256)}
    assert {c.value for c in DeliveryError} == documented


def test_russian_catalog_is_complete_and_compiled():
    """Every entry of the .po (read by a real parser: wrapped entries count too) is translated,
    none is fuzzy, and the compiled .mo gives each translation."""
    import gettext
    from pathlib import Path

    import polib

    folder = Path(__file__).resolve().parent.parent / "django_smsc_status/locale/ru/LC_MESSAGES"
    po = polib.pofile(str(folder / "django.po"))
    assert len(po) > 100  # the whole catalogue was read
    assert po.fuzzy_entries() == [] and po.untranslated_entries() == []
    with open(folder / "django.mo", "rb") as mo:
        catalog = gettext.GNUTranslations(mo)
    for entry in po.translated_entries():
        assert not entry.msgctxt  # none today; look such entries up with pgettext if they come
        if entry.msgid_plural:
            # Plural entries are looked up as such: Python < 3.11's gettext() does not find them.
            for n, form in ((1, 0), (2, 1), (5, 2)):  # Russian: 1 сообщение, 2 сообщения, 5 сообщений
                assert catalog.ngettext(entry.msgid, entry.msgid_plural, n) == entry.msgstr_plural[form]
        else:
            assert catalog.gettext(entry.msgid) == entry.msgstr, entry.msgid
