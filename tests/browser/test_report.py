"""report.html in a real browser: headless Chromium (Debian's, driven by Playwright) opens the
report of `roofsim analyze` from the file system and checks what a reader relies on: no
console error, every picture drawn, one table row per kernel whose numbers add up to
summary.json, and sorting that works. `.ci/run` installs Chromium and runs this file.

The same check must fail on a broken report: the last test breaks a copy in three ways and
expects each to be caught.
"""

import json
import os
import re
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
def roofsim(tmp_path_factory):
    """Runs `roofsim ARGS --out DIR` from the repository's folder and returns DIR."""
    binary = os.environ.get("ROOFSIM_BIN")
    if binary is None:
        subprocess.run(["cargo", "build", "--quiet"], cwd=REPOSITORY, check=True)
        binary = str(REPOSITORY / "target" / "debug" / "roofsim")

    def run(*args: str) -> Path:
        out = tmp_path_factory.mktemp(args[0])
        command = [binary, *args, "--out", str(out)]
        subprocess.run(command, cwd=REPOSITORY, check=True, capture_output=True)
        return out

    return run


@pytest.fixture(scope="module")
def analysis(roofsim) -> Path:
    """The default analysis (smolVLA on the U280) written by the command line."""
    return roofsim("analyze")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Per picture, the pairs of its text labels whose boxes overlap by more than a pixel each way.
OVERLAPPING_LABELS = """svgs => svgs.flatMap(svg => {
  const boxes = Array.from(svg.querySelectorAll('text'), t => [t.textContent, t.getBoundingClientRect()]);
  const pairs = [];
  boxes.forEach(([a, ra], i) => boxes.slice(i + 1).forEach(([b, rb]) => {
    const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
    const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
    if (x > 1 && y > 1) pairs.push(a + ' / ' + b);
  }));
  return pairs;
})"""


def open_report(browser, html: Path, pictures: int):
    """Opens `html` and checks what every report needs: no console error, nothing fetched,
    `pictures` inline SVGs each drawn with a real size and marks in it, no two labels of a
    picture on top of each other. Returns the page, the list its later problems go to, and
    the table as dicts of cell texts."""
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
    svgs = page.locator("figure > svg")
    assert svgs.count() == pictures
    for index in range(pictures):
        box = svgs.nth(index).bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 200, box
        assert svgs.nth(index).locator("circle, rect, path, line").count() > 3
    overlaps = svgs.evaluate_all(OVERLAPPING_LABELS)
    assert overlaps == [], overlaps
    header = page.locator("#table thead th").all_text_contents()
    rows = [
        dict(zip(header, cells))
        for cells in page.locator("#table tbody tr").evaluate_all(
            "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"
        )
    ]
    return page, problems, rows


def check_sorting(page, column: str, values: list) -> None:
    """One click on `column` puts its largest value first, a second click its smallest."""
    index = page.locator("#table thead th").all_text_contents().index(column)
    first_cell = page.locator("#table tbody tr").first.locator("td").nth(index)
    header = page.locator("#table thead th").nth(index)
    header.click()
    assert float(first_cell.text_content()) == max(values)
    header.click()
    assert float(first_cell.text_content()) == min(values)


def test_the_spatial_and_robot_step_reports_lead_with_their_answers(roofsim, browser):
    """The spatial design's report and the whole robot step's: every picture without
    overlapping labels, the headline above them; the robot step's headline gives the step's
    latency and action chunks per second as summary.json has them."""
    spatial = roofsim("analyze", "--design", "configs/designs/u280-int8-spatial.toml")
    page, problems, _ = open_report(browser, spatial / "report.html", pictures=5)
    check_headline(page, json.loads((spatial / "summary.json").read_text()))
    assert problems == [], problems
    page.close()
    full = roofsim("analyze", "--pipeline", "full")
    summary = json.loads((full / "summary.json").read_text())
    page, problems, _ = open_report(browser, full / "report.html", pictures=6)
    step = summary["robot_step"]
    answer = page.locator("section.headline .answer").text_content()
    assert f"{step['latency_ms']:.1f} ms per robot step" in answer, answer
    assert f"{step['chunks_per_s']:.2f} action chunks/s" in answer, answer
    assert problems == [], problems
    page.close()


def check_headline(page, summary: dict) -> None:
    """The report leads with its answer: above the first picture, the time per observation
    and the rate as summary.json has them, the bound, and per SLR a bar for each of DSP,
    BRAM, URAM and LUT showing its share, inside its cell."""
    headline = page.locator("section.headline")
    assert headline.count() == 1
    first_picture = page.locator("figure > svg").first.bounding_box()
    assert headline.bounding_box()["y"] + headline.bounding_box()["height"] <= first_picture["y"]
    total = summary["total"]
    answer = headline.locator(".answer").text_content()
    assert f"{total['ms']:.1f} ms per observation" in answer, answer
    assert f"{total['observations_per_s']:.2f} observations/s" in answer, answer
    assert f"bound by {total['bottleneck']}" in headline.text_content()
    slrs = summary["resources"]["slrs"]
    bars = headline.locator(".bar")
    assert bars.count() == 4 * len(slrs)
    keys = ["dsp_share", "bram_share", "uram_share", "lut_share"]
    for index in range(bars.count()):
        bar = bars.nth(index)
        share = float(bar.get_attribute("data-share"))
        assert abs(share - slrs[index // 4][keys[index % 4]]) < 1e-4
        outer, inner = bar.bounding_box(), bar.locator("span").bounding_box()
        assert inner["width"] <= outer["width"] + 0.5
        assert abs(inner["width"] - min(share, 1.0) * (outer["width"] - 2)) <= 1.5, (share, inner, outer)


def check_report(browser, html: Path, summary: dict, screenshot: Path = None) -> None:
    """Opens a simulation's report and asserts it renders whole and agrees with `summary`:
    five pictures (three of the simulation, the vision and text rooflines), one row per
    kernel whose instances and times add up to the run's, sorting that sorts."""
    page, problems, rows = open_report(browser, html, pictures=5)
    total = summary["total"]
    assert sum(int(row["count"].lstrip("x")) for row in rows) == total["kernels"]
    total_us = sum(float(row["total us"]) for row in rows)
    assert abs(total_us - total["ms"] * 1e3) <= 0.05 * len(rows) + 1e-6, (total_us, total["ms"])
    assert {row["kernel"].split("/")[0] for row in rows} == {
        encoder["encoder"] for encoder in summary["encoders"]
    }
    text = page.locator("pre").first.text_content()
    assert f"{total['observations_per_s']:.1f} observations/s" in text
    check_headline(page, summary)

    engines = page.locator("#table-1 tbody tr")
    assert engines.count() == len(summary["design"]["engines"])
    check_sorting(page, "total us", [float(row["total us"]) for row in rows])
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
        # The headline gone: the report no longer leads with its answer.
        lambda html: re.sub(r'<section class="headline">.*?</section>', "", html, flags=re.S),
        # Two labels of a picture drawn over each other.
        lambda html: html.replace(
            "</svg>", '<text x="300" y="300">over</text><text x="302" y="301">lap</text></svg>', 1
        ),
    ],
    ids=[
        "script-error",
        "missing-row",
        "hidden-picture",
        "external-fetch",
        "no-headline",
        "overlapping-labels",
    ],
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


def test_a_sweeps_report_shows_its_front_and_every_simulated_point(roofsim, browser, tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        'encoders = ["vision"]\nkernels = ["vision/fc2"]\n[axes]\n'
        'array_count = [1, 2, 3, 4]\narray_shape = ["32x32", "64x64", "128x32"]\n'
    )
    out = roofsim("sweep", "--sweep", str(spec), "--cameras", "1", "--vision-layers", "1")
    simulated = [
        line.split(",")[0]
        for line in (out / "sweep.csv").read_text().splitlines()[1:]
        if line.split(",")[1] == "ok"
    ]
    # Latency against DSPs, and against board power (the U280 has a power model).
    page, problems, rows = open_report(browser, out / "report.html", pictures=2)
    assert sorted(row["point"] for row in rows) == sorted(simulated)
    best = (out / "best.toml").read_text().split()[3]
    assert rows[0]["point"] == best
    check_sorting(page, "ms", [float(row["ms"]) for row in rows])
    assert problems == [], problems
