"""Users' own series through the doors: the rows of a long CSV or XLSX file, for
`frames.long_frame` (the command line's `forecast --csv` and uploads to `POST /v1/forecast`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from smfcast.errors import InvalidInput

SHEET = "data"  # the sheet an XLSX upload is read from when it has several


def records_from_file(data: bytes, name: str) -> list[dict]:
    """The rows of a long CSV or XLSX file as dicts keyed by its header (for `frames.long_frame`)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv" or suffix == "":
        from smfcast.registry.template import decode_text
        reader = csv.reader(io.StringIO(decode_text(data, name), newline=""))
        table = [r for r in reader if any(c.strip() for c in r)]
    elif suffix == ".xlsx":
        from openpyxl import load_workbook
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a file that is not a workbook
            raise InvalidInput(f"{name} is not an XLSX workbook ({type(exc).__name__})", "file") from None
        try:
            ws = wb[SHEET] if SHEET in wb.sheetnames else wb[wb.sheetnames[0]]
            table = [list(r) for r in ws.iter_rows(values_only=True) if any(c not in (None, "") for c in r)]
        finally:
            wb.close()
    else:
        raise InvalidInput(f"{name}: give a .csv or .xlsx file", "file")
    if not table:
        raise InvalidInput(f"{name} is empty", "file")
    header = [str(c).strip() if c is not None else "" for c in table[0]]
    return [{h: (v.strip() if isinstance(v, str) else v) for h, v in zip(header, r)} for r in table[1:]]

