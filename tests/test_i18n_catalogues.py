"""Every string the staff pages, the admin's templates and the presentation modules translate has a Spanish and an
English entry in the catalogues: a page in either language shows no untranslated string. The strings are
extracted the way `makemessages` does (Django's templatize for templates, gettext keywords for Python), and
compared with every catalogue the project compiles."""

import io
from pathlib import Path

from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
}
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("backoffice/*/templates")]
# The modules that word what staff read (labels, sentences, refusals, headline cards, charts).
PYTHON_MODULES = [
    "customers/wording.py",
    "customers/admin.py",
    "backoffice/staff/presenters.py",
    "backoffice/staff/views.py",
    "backoffice/staff/case_views.py",
    "backoffice/staff/order_views.py",
    "backoffice/staff/forms.py",
    "backoffice/staff/navigation.py",
    "backoffice/staff/templatetags/admin_jobs.py",
    "backoffice/insights/admin.py",
    "backoffice/insights/figures.py",
    "backoffice/insights/headline.py",
    "backoffice/insights/charts.py",
    "campaigns/worksheet.py",
    "campaigns/admin.py",
    "backoffice/integrations/admin.py",
    "backoffice/eventstore/admin.py",
    "backoffice/accounts/third_party_apps.py",
    "backoffice/accounts/admin.py",
]


def _catalogue(language: str) -> set:
    """Translated (context, msgid) of the project's catalogues and of Django's admin (our admin templates reuse its
    strings: "Add", "Change"...)."""
    import django.contrib.admin

    translated = set()
    django_admin = Path(django.contrib.admin.__file__).parent / "locale" / language / "LC_MESSAGES" / "django.po"
    where = f"locale/{language}/LC_MESSAGES/django.po"
    ours = [*ROOT.glob(where), *ROOT.glob(f"*/{where}"), *ROOT.glob(f"*/*/{where}")]
    for po in [*ours, django_admin]:
        with po.open("rb") as handle:
            for message in read_po(handle):
                strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
                if message.id and all(strings) and not message.fuzzy:
                    translated.add((message.context, message.id if isinstance(message.id, str) else message.id[0]))
    return translated


def _messages(code: str, origin: str):
    for _line, function, message, _comments in extract_python(io.BytesIO(code.encode()), KEYWORDS.keys(), [], {}):
        context = None
        if isinstance(message, tuple):
            if function.startswith(("pgettext", "npgettext")):
                context, message = message[0], message[1]
            else:
                message = message[0]  # ngettext: the singular is the catalogue's key
        if message:
            yield (context, message), origin


def _used_strings() -> dict:
    used = {}
    for directory in TEMPLATE_DIRS:
        for template in directory.rglob("*.html"):
            code = templatize(template.read_text(encoding="utf-8"), origin=str(template))
            for key, origin in _messages(code, str(template.relative_to(ROOT))):
                used.setdefault(key, origin)
    for module in PYTHON_MODULES:
        for key, origin in _messages((ROOT / module).read_text(encoding="utf-8"), module):
            used.setdefault(key, origin)
    return used


def test_every_string_of_the_pages_has_its_spanish_translation():
    """English pages show the msgids themselves (they are English), so Spanish is the catalogue that must be whole."""
    used = _used_strings()
    translated = _catalogue("es")

    missing = sorted(f"{origin}: {key[1]!r}" for key, origin in used.items() if key not in translated)

    assert len(used) > 500
    assert missing == []


def _english_entries() -> dict:
    """(context, msgid) -> msgstr of the English catalogues (an empty msgstr shows the msgid itself)."""
    import django.contrib.admin

    entries = {}
    django_admin = Path(django.contrib.admin.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
    where = "locale/en/LC_MESSAGES/django.po"
    for po in [*ROOT.glob(where), *ROOT.glob(f"*/{where}"), *ROOT.glob(f"*/*/{where}"), django_admin]:
        with po.open("rb") as handle:
            for message in read_po(handle):
                if message.id and not message.fuzzy:
                    key = (message.context, message.id if isinstance(message.id, str) else message.id[0])
                    string = message.string if isinstance(message.string, str) else message.string[0]
                    entries[key] = string or entries.get(key, "")
    return entries


SPANISH_MARKS = set("áéíóúñ¿¡ÁÉÍÓÚÑ")


def test_every_string_of_the_pages_has_its_english_entry_and_reads_in_english():
    """An English page shows each string's English entry, or its msgid when the entry is empty: every string the
    pages use is in an English catalogue, and a msgid written in Spanish has an English translation."""
    used = _used_strings()
    english = _english_entries()

    missing = sorted(f"{origin}: {key[1]!r}" for key, origin in used.items() if key not in english)
    spanish = sorted(
        f"{origin}: {key[1]!r}"
        for key, origin in used.items()
        if key in english and not english[key] and SPANISH_MARKS & set(key[1])
    )

    assert len(used) > 500
    assert missing == []
    assert spanish == []
