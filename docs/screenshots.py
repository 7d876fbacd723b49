"""Make the pictures in docs/: the page at `/` and a workbook chart, as PNG files.

    .venv/bin/python docs/screenshots.py            # uses var/smfcast.sqlite, computing a run if none

Needs what `make test` and `.ci/run` install: the dev extras (Selenium), Debian's chromium,
chromium-driver and libreoffice-calc; fonts-noto-cjk draws the Chinese text (without it the
pictures show boxes, and the script says so). Starts the real server over the store, photographs
the page in headless Chromium (Selenium), then asks the API for the market-size workbook and has
LibreOffice export it as HTML, which draws each native chart of the workbook as a PNG: the chart
as LibreOffice renders it for a user opening the file, not a re-drawing of it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_http import free_port, start_server  # noqa: E402

PAGE = "/?metric=market_size&scenario=adverse"
WORKBOOK = "/v1/forecasts?metric=market_size&scenario=baseline&format=xlsx"


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"docs/screenshots.py needs {', '.join(missing)} (Debian: chromium chromium-driver libreoffice-calc)")
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout if shutil.which("fc-list") else ""
    if not fonts.strip():
        print("docs/screenshots.py: no Chinese font installed (Debian: fonts-noto-cjk); Chinese text will show as boxes", file=sys.stderr)


def page_png(base: str, out: Path, width: int = 1280, height: int = 900) -> None:
    """The whole page at `width` CSS pixels, as tall as it is."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--window-size={width},{height}",
                 "--hide-scrollbars"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                                      "mobile": False})
        browser.get(base + PAGE)
        full = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": full, "deviceScaleFactor": 1,
                                                                      "mobile": False})
        browser.save_screenshot(str(out))
    finally:
        browser.quit()


def workbook_png(base: str, out: Path) -> None:
    """The workbook's first chart (the market-size sheet's), as LibreOffice draws it."""
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "market.xlsx"
        with urllib.request.urlopen(base + WORKBOOK, timeout=60) as r:
            book.write_bytes(r.read())
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp}/profile", "--convert-to", "html",
                        "--outdir", tmp, str(book)], check=True, capture_output=True, timeout=180)
        html = (Path(tmp) / "market.html").read_text(encoding="utf-8", errors="replace")
        images = re.findall(r'<img src="([^"]+\.png)"', html)
        if not images:
            raise SystemExit("LibreOffice drew no chart from the workbook")
        shutil.copyfile(Path(tmp) / images[0], out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(ROOT / "var" / "smfcast.sqlite"))
    ap.add_argument("--out", default=str(DOCS), help="folder for page.png and workbook_chart.png (default: docs/)")
    args = ap.parse_args(argv)
    need("chromium", "chromedriver", "soffice")
    out = Path(args.out)
    port = free_port()
    server = start_server(Path(args.store), port, workers=1)
    try:
        base = f"http://127.0.0.1:{port}"
        page_png(base, out / "page.png")
        workbook_png(base, out / "workbook_chart.png")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"wrote {out / 'page.png'} and {out / 'workbook_chart.png'}")


if __name__ == "__main__":
    main()
