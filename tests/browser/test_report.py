"""report.html in a real browser: headless Chromium (Debian's, driven by Playwright) opens the
report of `roofsim analyze` from the file system and checks what a reader relies on: no
console error, every picture drawn, one table row per kernel whose numbers add up to
summary.json, and sorting that works. `.ci/run` installs Chromium and runs this file.

The same check must fail on a broken report: the last test breaks a copy in three ways and
expects each to be caught.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network and a root user (the CI machine's): no sandbox, no background
# connections, a fresh profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def analysis(tmp_path_factory) -> Path:
    """The default analysis (smolVLA on the U280) written by the command line."""
    binary = os.environ.get("ROOFSIM_BIN")
    if binary is None:
        subprocess.run(["cargo", "build", "--quiet"], cwd=REPOSITORY, check=True)
        binary = str(REPOSITORY / "target" / "debug" / "roofsim")
    out = tmp_path_factory.mktemp("analyze")
    subprocess.run(
        [binary, "analyze", "--out", str(out)], cwd=REPOSITORY, check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def check_report(browser, html: Path, summary: dict, screenshot: Path = None) -> None:
    """Opens `html` and asserts it renders whole and agrees with `summary`."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    # The page itself is the only thing it may load.
    page.on(
        "request",
        lambda request: request.url != html.as_uri() and problems.append(f"fetched {request.url}"),
    )
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    assert problems == [], problems

    # Every picture is drawn with a real size: five inline SVGs (three of the simulation, the
    # vision and text rooflines), each with marks in it.
    pictures = page.locator("figure > svg")
    assert pictures.count() == 5
    for index in range(pictures.count()):
        box = pictures.nth(index).bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 200, box
        assert pictures.nth(index).locator("circle, rect, path, line").count() > 3

    # One row per kernel; their instances and times add up to the run's.
    header = page.locator("#kernels thead th").all_text_contents()
    rows = [
        dict(zip(header, cells))
        for cells in page.locator("#kernels tbody tr").evaluate_all(
            "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"
        )
    ]
    total = summary["total"]
    assert sum(int(row["count"].lstrip("x")) for row in rows) == total["kernels"]
    total_us = sum(float(row["total us"]) for row in rows)
    assert abs(total_us - total["ms"] * 1e3) <= 0.05 * len(rows) + 1e-6, (total_us, total["ms"])
    assert {row["kernel"].split("/")[0] for row in rows} == {
        encoder["encoder"] for encoder in summary["encoders"]
    }
    text = page.locator("pre").first.text_content()
    assert f"{total['observations_per_s']:.1f} observations/s" in text

    # Sorting: one click on "total us" puts the slowest kernel first, a second the fastest.
    times = [float(row["total us"]) for row in rows]
    column = page.locator("#kernels thead th", has_text="total us")
    first_row = page.locator("#kernels tbody tr").first
    column.click()
    assert float(first_row.locator("td").nth(2).text_content()) == max(times)
    column.click()
    assert float(first_row.locator("td").nth(2).text_content()) == min(times)
    assert problems == [], problems
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()


def test_the_report_renders_and_agrees_with_the_summary(analysis, browser):
    summary = json.loads((analysis / "summary.json").read_text())
    screenshot = Path(os.environ.get("REPORT_SCREENSHOT", analysis / "report.png"))
    check_report(browser, analysis / "report.html", summary, screenshot)
    assert screenshot.stat().st_size > 10_000


def remove_a_row(html: str) -> str:
    """The table loses a kernel: it no longer adds up to the run."""
    start = html.index("<tr><td>vision/fc2</td>")
    return html[:start] + html[html.index("</tr>", start) + len("</tr>") :]


@pytest.mark.parametrize(
    "breakage",
    [
        # A script error: sorting would silently do nothing.
        lambda html: html.replace("<script>", "<script>undefinedFunction();", 1),
        remove_a_row,
        # A picture hidden (as a broken stylesheet would).
        lambda html: html.replace("<figure>", "<figure hidden>", 1),
        # Something fetched from outside: the report would not open offline.
        lambda html: html.replace("</body>", '<img src="https://example.com/x.png"></body>'),
    ],
    ids=["script-error", "missing-row", "hidden-picture", "external-fetch"],
)
def test_a_broken_report_fails_the_check(analysis, browser, tmp_path, breakage):
    html = (analysis / "report.html").read_text()
    broken_html = breakage(html)
    assert broken_html != html
    broken = tmp_path / "report.html"
    broken.write_text(broken_html)
    summary = json.loads((analysis / "summary.json").read_text())
    with pytest.raises(AssertionError):
        check_report(browser, broken, summary)
