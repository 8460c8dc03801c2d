"""``.. smsc-settings-summary::``: a table of every ``SMSC_STATUS`` key generated from
``django_smsc_status.conf`` (type, default, floor, where it may be set), so it cannot drift."""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import Directive

from django_smsc_status import conf

#: Keys whose default is None: what they take instead (a new one shows "see the meaning").
NONE_TYPES = {
    "WSDL": "str (path or URL) or None",
    "NAMESPACE": "str or None",
    "API_PERMISSION_CLASSES": "list of dotted paths or None",
    "RETENTION": "dict or None",
}


def _type(key: str, value: object) -> str:
    if value is None:
        return NONE_TYPES.get(key, "see the meaning")
    names = {bool: "bool", int: "int", float: "float", str: "str", tuple: "tuple of str", dict: "dict"}
    return names.get(type(value), type(value).__name__)


def _scope(key: str) -> str:
    if key in conf.SITE_KEYS:
        return "site"
    if key in conf.OWN_ONLY:
        return "per account, not inherited"
    if key in conf.CREDENTIALS:
        return "per account, inherited together"
    return "site or per account"


def _cell(text: str, literal: bool = False) -> nodes.entry:
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    paragraph += nodes.literal(text=text) if literal else nodes.Text(text)
    entry += paragraph
    return entry


class SettingsSummary(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        head = ("Key", "Type", "Default", "Floor", "Where")
        table = nodes.table()
        group = nodes.tgroup(cols=len(head))
        table += group
        for width in (30, 16, 30, 8, 24):
            group += nodes.colspec(colwidth=width)
        header = nodes.thead()
        row = nodes.row()
        for title in head:
            row += _cell(title)
        header += row
        group += header
        body = nodes.tbody()
        for key, default in conf.DEFAULTS.items():
            row = nodes.row()
            row += _cell(key, literal=True)
            row += _cell(_type(key, default))
            row += _cell(repr(default), literal=True)
            floor = conf.FLOORS.get(key)
            row += _cell(f"{floor:g}" if floor is not None else "")
            row += _cell(_scope(key))
            body += row
        group += body
        return [table]


def setup(app):
    app.add_directive("smsc-settings-summary", SettingsSummary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
