"""Contact-list uploads cannot exhaust the web process: expanded size, rows, columns and cell length
are limited while the file is read, a clear 400 names the limit, and the stored preview is short."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from openpyxl.utils import get_column_letter

from accounts.models import Role
from outbound import importing
from outbound.models import ContactImport
from tests.conftest import ROOT, child_env, logged_in, make_user
from tests.outbound.kit import make_campaign

MB = 1024 * 1024
PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
        '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
        'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships"><sheets><sheet name="List" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>Name</t></is></c></row>'
)
SHEET_TAIL = "</sheetData></worksheet>"


def workbook(sheet_chunks: Iterable[str]) -> bytes:
    """A real .xlsx package whose first sheet's XML is the chunks given, written as they come."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        for name, text in PARTS.items():
            package.writestr(name, text)
        with package.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for chunk in sheet_chunks:
                sheet.write(chunk.encode())
    return out.getvalue()


def one_huge_cell(expanded: int) -> Iterable[str]:
    """A second row whose name cell holds ``expanded`` bytes of text."""
    yield SHEET_HEAD + '<row r="2"><c r="A2" t="inlineStr"><is><t>+442079460018</t></is></c>'
    yield '<c r="B2" t="inlineStr"><is><t>'
    for _ in range(expanded // MB):
        yield "A" * MB
    yield "</t></is></c></row>" + SHEET_TAIL


def upload(client, campaign, data: bytes, name: str):
    file = io.BytesIO(data)
    file.name = name
    return client.post(f"/campaigns/{campaign.pk}/import/", {"file": file})


@pytest.fixture
def alpha_campaign(db, tenants):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, default_region="GB")
    client = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    return client, campaign


def test_a_21_kb_workbook_with_a_20_mb_cell_is_a_400_naming_the_limit_and_nothing_is_stored(
    alpha_campaign, tenants
):
    client, campaign = alpha_campaign
    data = workbook(one_huge_cell(20 * MB))
    assert len(data) < 64 * 1024
    response = upload(client, campaign, data, "list.xlsx")
    assert response.status_code == 400
    assert "Row 2, column 2 holds more than 2,000 characters" in response.content.decode()
    with tenant_context(tenants.alpha):
        assert not ContactImport.objects.exists()


def test_a_workbook_that_expands_past_the_limit_is_refused_before_it_is_read(alpha_campaign, tenants):
    client, campaign = alpha_campaign
    data = workbook(one_huge_cell(100 * MB))
    response = upload(client, campaign, data, "list.xlsx")
    assert response.status_code == 400
    assert "at most 64 MB uncompressed is read" in response.content.decode()
    with tenant_context(tenants.alpha):
        assert not ContactImport.objects.exists()


def test_a_cell_far_to_the_right_is_a_400_not_a_row_padded_to_16384_columns(alpha_campaign, tenants):
    client, campaign = alpha_campaign
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>+4420794600{n:02d}</t></is></c>'
        f'<c r="XFD{n}" t="inlineStr"><is><t>x</t></is></c></row>'
        for n in range(2, 50)
    )
    declared = SHEET_HEAD.replace("<sheetData>", '<dimension ref="A1:XFD49"/><sheetData>')
    response = upload(client, campaign, workbook([declared, rows, SHEET_TAIL]), "list.xlsx")
    assert response.status_code == 400
    assert "16,384 columns wide; at most 100 columns are read" in response.content.decode()
    wide = "".join(f'<c r="{get_column_letter(n)}2"><v>{n}</v></c>' for n in range(1, 120))
    response = upload(
        client, campaign, workbook([SHEET_HEAD, f'<row r="2">{wide}</row>', SHEET_TAIL]), "w.xlsx"
    )
    assert response.status_code == 400
    assert "Row 2 has more than 100 columns" in response.content.decode()
    wide_csv = ("Phone," + ",".join(f"c{n}" for n in range(150)) + "\n+442079460018\n").encode()
    response = upload(client, campaign, wide_csv, "list.csv")
    assert response.status_code == 400 and "more than 100 columns" in response.content.decode()
    with tenant_context(tenants.alpha):
        assert not ContactImport.objects.exists()


def test_too_many_rows_are_refused_while_reading(alpha_campaign, monkeypatch):
    client, campaign = alpha_campaign
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    response = upload(client, campaign, b"Phone\n1\n2\n3\n4\n5\n", "list.csv")
    assert response.status_code == 400 and "At most 3 rows per file" in response.content.decode()


def test_the_preview_kept_for_the_mapping_step_is_cut_short(alpha_campaign, tenants):
    client, campaign = alpha_campaign
    rows = "".join(f"+4420794600{n:02d},{'N' * 1500}\n" for n in range(10, 30))
    response = upload(client, campaign, f"Phone,Name\n{rows}".encode(), "list.csv")
    assert response.status_code == 302
    with tenant_context(tenants.alpha):
        stored = ContactImport.objects.get()
    assert len(stored.preview) == 5 and all(len(cell) <= 100 for row in stored.preview for cell in row)
    with tenant_context(tenants.beta):
        assert not ContactImport.objects.filter(pk=stored.pk).exists()


MEASURE = """
import json, sys
import django
django.setup()
import openpyxl  # noqa: F401 (imported before the first figure)
from outbound.importing import ListError, read_table

def status_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

data = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) starts again from what the process holds now
before = status_mb("VmRSS")
try:
    read_table(data, "bomb.xlsx")
    outcome = "read"
except ListError as exc:
    outcome = str(exc)
print(json.dumps({"before_mb": before, "peak_mb": status_mb("VmHWM"), "outcome": outcome}))
"""


def test_a_zip_bomb_upload_leaves_the_memory_of_the_process_bounded(tmp_path: Path):
    """In a process of its own (the figure is its peak resident memory, VmHWM, reset just before the
    read): a 300 KB workbook that
    expands to 300 MB costs the reader almost nothing, because it is refused before it is inflated."""
    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(workbook(one_huge_cell(300 * MB)))
    assert bomb.stat().st_size < 400 * 1024
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(bomb)],
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    figures = json.loads(done.stdout.decode().strip().splitlines()[-1])
    size = bomb.stat().st_size // 1024
    before, peak = figures["before_mb"], figures["peak_mb"]
    print(f"bomb {size} KB: resident {before:.0f} MB, peak while reading {peak:.0f} MB")
    assert peak - before < 32
    assert "uncompressed" in figures["outcome"]
