"""Contact list import: messy files give a clean list and an exact rejection report."""

from __future__ import annotations

import csv
import io

import pytest
from django_tenants.utils import tenant_context
from openpyxl import Workbook

from outbound.importing import ListError, guess_mapping, import_contacts, read_table, rejections_csv
from outbound.models import CampaignContact, DoNotCall
from telephony.calls.models import Contact
from tests.outbound.kit import make_campaign

pytestmark = pytest.mark.django_db

MESSY = (
    "Name;Surname;Phone;E-mail;Firma;City\n"
    "Zoë;Müller;030 1234567;zoe@example.de;Bäckerei;Berlin\n"
    "Bad;Row;12;;;Köln\n"
    ";;;;;\n"
    "Zoë;;+49 30 1234567;;;Berlin Mitte\n"
    "Jürgen;Weiß;0049 89 123456;not-an-email;;München\n"
    "Empty;Phone;;x@example.com;;\n"
    "Letters;Only;call me;;;\n"
    "Too;Long;+49 30 123456789012345;;;\n"
    "Tokyo;San;+81 3-1234-5678;;;Tokyo\n"
)


def mapping_for(table) -> dict:
    mapping = guess_mapping(table.headers)
    mapping["first_name"] = table.headers.index("Name")
    mapping["last_name"] = table.headers.index("Surname")
    return mapping


@pytest.fixture
def campaign(tenants):
    with tenant_context(tenants.alpha):
        yield make_campaign(tenants.alpha, default_region="DE", default_timezone="Europe/Berlin")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_messy_csv_in_any_encoding_gives_a_clean_list_and_an_exact_report(campaign, encoding):
    table = read_table(MESSY.encode(encoding), "list.csv")
    assert table.headers == ["Name", "Surname", "Phone", "E-mail", "Firma", "City"]
    mapping = mapping_for(table)
    assert mapping["phone"] == 2 and mapping["email"] == 3 and mapping["company"] == 4
    result = import_contacts(campaign=campaign, table=table, mapping=mapping)

    assert [(r.row, r.raw, r.reason) for r in result.rejections] == [
        (3, "12", "Not a valid phone number for its country."),
        (7, "", "No phone number."),
        (8, "call me", "Not a phone number (not a number)."),
        (9, "+49 30 123456789012345", "Not a phone number (too long)."),
    ]
    assert (result.created, result.merged) == (3, 1)
    entries = {
        e.phone: e for e in CampaignContact.objects.filter(campaign=campaign).select_related("contact")
    }
    assert set(entries) == {"+49301234567", "+4989123456", "+81312345678"}
    zoe = entries["+49301234567"]
    assert (zoe.contact.first_name, zoe.contact.last_name, zoe.contact.company) == (
        "Zoë",
        "Müller",
        "Bäckerei",
    )
    assert zoe.fields == {"City": "Berlin"}  # the first non-empty value stays
    assert zoe.timezone == "Europe/Berlin"
    assert entries["+4989123456"].contact.email == ""  # not an email: left out, never rejected
    assert entries["+81312345678"].timezone == "Asia/Tokyo"  # guessed from the number
    report = list(csv.reader(io.StringIO(rejections_csv(result.rejections))))
    assert report[0] == ["row", "value", "reason"]
    assert report[1] == ["3", "12", "Not a valid phone number for its country."]
    assert len(report) == 5


def test_xlsx_with_a_missing_column_and_numbers_as_cells(campaign):
    book = Workbook()
    sheet = book.active
    sheet.append(["phone", "first name", "tz", "plan"])
    sheet.append([4930111222, "Ada", "Europe/Lisbon", "gold"])
    sheet.append(["+1 212 555 0188", "Bob", "Mars/Olympus", None])
    sheet.append(["nonsense", "Cy"])  # a short row: the missing cells are empty
    sheet.append([])
    data = io.BytesIO()
    book.save(data)
    table = read_table(data.getvalue(), "list.xlsx")
    mapping = guess_mapping(table.headers)
    assert mapping == {
        "phone": 0,
        "first_name": 1,
        "last_name": None,
        "email": None,
        "company": None,
        "timezone": 2,
    }
    result = import_contacts(campaign=campaign, table=table, mapping=mapping)
    assert [(r.row, r.raw) for r in result.rejections] == [(4, "nonsense")]
    entries = {e.phone: e for e in CampaignContact.objects.filter(campaign=campaign)}
    assert entries["+4930111222"].timezone == "Europe/Lisbon"
    assert entries["+4930111222"].fields == {"plan": "gold"}
    assert entries["+12125550188"].timezone == "America/New_York"  # bad zone in the file: from the number


def test_existing_contacts_are_reused_and_reimport_merges(campaign):
    known = Contact.objects.create(phone="+49301234567", first_name="Zoe", company="")
    DoNotCall.objects.create(phone="+4989123456")
    table = read_table(MESSY.encode(), "list.csv")
    first = import_contacts(campaign=campaign, table=table, mapping=mapping_for(table))
    assert first.blocked == 1
    assert CampaignContact.objects.get(campaign=campaign, phone="+4989123456").state == "dnc"
    known.refresh_from_db()
    assert (known.first_name, known.company) == ("Zoe", "Bäckerei")  # kept its name, filled a blank
    again = import_contacts(campaign=campaign, table=table, mapping=mapping_for(table))
    assert (again.created, again.updated) == (0, 3)
    assert CampaignContact.objects.filter(campaign=campaign).count() == 3
    assert Contact.objects.filter(phone="+49301234567").count() == 1


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "empty"),
        (b"PK\x03\x04garbage", "list.xlsx", "not a readable Excel"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(data, name, message):
    with pytest.raises(ListError, match=message):
        read_table(data, name)


def test_tab_separated_utf16_without_bom(campaign):
    text = "Telefon\tVorname\n+49 30 7654321\tEva\n"
    table = read_table(text.encode("utf-16-le"), "list.txt")
    assert table.headers == ["Telefon", "Vorname"]
    assert table.delimiter == "\t"
    mapping = guess_mapping(table.headers)
    assert mapping["phone"] == 0 and mapping["first_name"] == 1
    result = import_contacts(campaign=campaign, table=table, mapping=mapping)
    assert result.created == 1 and not result.rejections


def test_lists_larger_than_one_statement_are_looked_up_in_parts(campaign, monkeypatch):
    import outbound.rules

    DoNotCall.objects.create(phone="+493076543205")
    Contact.objects.create(phone="+493076543203", first_name="Known")
    monkeypatch.setattr(outbound.rules, "CHUNK", 2)
    rows = "\n".join(f"+4930765432{n:02d},Name{n}" for n in range(7))
    table = read_table(f"phone,first name\n{rows}\n".encode(), "list.csv")
    result = import_contacts(campaign=campaign, table=table, mapping=guess_mapping(table.headers))
    assert (result.created, result.blocked) == (7, 1)
    again = import_contacts(campaign=campaign, table=table, mapping=guess_mapping(table.headers))
    assert (again.created, again.updated) == (0, 7)
    assert Contact.objects.get(phone="+493076543203").first_name == "Known"


def test_blocked_numbers_takes_more_numbers_than_postgresql_takes_parameters(db, tenants):
    from outbound.rules import blocked_numbers

    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone="+15550169999")
        phones = [f"+1555{n:07d}" for n in range(70_000)] + ["+15550169999"]
        assert blocked_numbers(phones) == {"+15550169999"}
