"""Make the README's pictures: the page at `/` and a workbook chart, as PNG files in docs/.

    apt-get install chromium chromium-driver libreoffice-calc poppler-utils fonts-noto-cjk
    .venv/bin/python docs/screenshots.py            # uses var/smfcast.sqlite, computing a run if none

Starts the real server over the store, photographs the page in headless Chromium (Selenium), then
asks the API for the market-size workbook, has LibreOffice print its first sheet to PDF and
pdftoppm turn that page into a PNG: what a user opening the file sees, not a re-drawing of it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_http import free_port, start_server  # noqa: E402


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"docs/screenshots.py needs {', '.join(missing)} (Debian: chromium chromium-driver "
                         "libreoffice-calc poppler-utils fonts-noto-cjk)")


def page_png(base: str, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1900",
                 "--hide-scrollbars"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(base + "/?metric=market_size&scenario=adverse")
        browser.save_screenshot(str(out))
    finally:
        browser.quit()


def workbook_png(base: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "market.xlsx"
        with urllib.request.urlopen(base + "/v1/forecasts?metric=market_size&scenario=baseline&format=xlsx", timeout=60) as r:
            book.write_bytes(r.read())
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp}/profile", "--convert-to", "pdf",
                        "--outdir", tmp, str(book)], check=True, capture_output=True, timeout=180)
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(Path(tmp) / "market.pdf"),
                        str(out.with_suffix(""))], check=True, timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(ROOT / "var" / "smfcast.sqlite"))
    args = ap.parse_args()
    need("chromium", "chromedriver", "soffice", "pdftoppm")
    port = free_port()
    server = start_server(Path(args.store), port, workers=1)
    try:
        base = f"http://127.0.0.1:{port}"
        time.sleep(0.5)
        page_png(base, DOCS / "page.png")
        workbook_png(base, DOCS / "workbook_chart.png")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"wrote {DOCS / 'page.png'} and {DOCS / 'workbook_chart.png'}")


if __name__ == "__main__":
    main()
