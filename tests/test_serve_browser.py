"""`netc serve` end to end in a real headless browser: Debian's chromium driven by Selenium
through the system chromedriver (both from /usr/bin; Selenium is given their paths, so it
never downloads anything). The page loads a zoo network, is edited, shows the diagram and the
table change, shows an error inline, saves a file, and leaves a screenshot as an artifact
(out/test-artifacts/serve-e2e.png, and the pytest tmp dir).

Without chromium, chromedriver or selenium the test is skipped on a developer's machine and
fails under CI (`CI=true`), where scripts/setup.sh installs them. `NETC_SERVE_SCREENSHOT=PATH`
also writes the README's screenshot (docs/images/serve.png) to PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_dot

from netc.serve import Server, Workspace, make_server

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ARTIFACTS = ROOT / "out" / "test-artifacts"
CHROMIUM = Path(os.environ.get("NETC_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("NETC_CHROMEDRIVER", "/usr/bin/chromedriver"))
WAIT = 20.0  # seconds, for any one thing the page must show
MINE = """# a spec of the served folder
name: "mine"
input: "data"  input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }

define block(n: int) {
  layer { name: "conv" type: "Convolution" num_output: n kernel_size: 3 pad: 1 }
  layer { name: "relu" type: "ReLU" inplace: true }
}

block "b1" { n: 16 }
block "b2" { n: 32 }
layer { name: "fc" type: "InnerProduct" num_output: 10 }
"""


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"the browser test needs {', '.join(missing)} (scripts/setup.sh installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "mine.net").write_text(MINE)
    server: Server = make_server(Workspace(folder, SPECS), port=0, log=lambda message: None)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    require_dot()
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never reach the network
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # loopback only
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    browser = webdriver.Chrome(service=service, options=options)
    browser.set_page_load_timeout(30)
    browser.set_script_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


def wait_for(browser: Any, what: str, condition: Callable[[], Any]) -> Any:
    """Poll `condition` until it is truthy, at most WAIT seconds."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, WAIT, poll_frequency=0.1).until(lambda _: condition())
    except TimeoutException:
        status, problems, text = browser.execute_script(
            "return ['status', 'problems', 'source'].map(id => {"
            " const e = document.getElementById(id); return e.value ?? e.textContent })"
        )
        raise AssertionError(
            f"timed out waiting for {what} (status: {status!r}; problems: {problems!r}; "
            f"text: {text[-300:]!r})"
        ) from None


def js(browser: Any, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


ROW_NAMES = "return [...document.querySelectorAll('#layers tbody td.name')].map(e => e.textContent)"
TEXT = "return document.getElementById('source').value"
SELECTED_ROWS = (
    "return [...document.querySelectorAll('#layers tr.sel td.name')].map(e => e.textContent)"
)
SELECTED_LINES = (
    "return [...document.querySelectorAll('#highlight .ln')]"
    ".flatMap((e, i) => e.classList.contains('sel') ? [i + 1] : [])"
)
SELECTED_NODE = (
    "const g = document.querySelector('#canvas g.node.sel'); return g ? g.textContent : ''"
)
SVG_TEXT = "const s = document.querySelector('#canvas svg'); return s ? s.textContent : ''"


def settled(browser: Any) -> bool:
    """The latest edit has been analysed and drawn (no request in flight)."""
    return bool(js(browser, "return !document.getElementById('status').classList.contains('busy')"))


def screenshot(browser: Any, *paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000, path


def test_edit_a_zoo_network_in_the_browser(
    driver: Any, served: tuple[str, Path], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    url, folder = served
    browser = driver
    browser.get(url + "#folder:mine.net")
    wait_for(browser, "the table of mine.net", lambda: "b2.conv" in js(browser, ROW_NAMES))
    wait_for(browser, "the diagram of mine.net", lambda: "b1.conv" in js(browser, SVG_TEXT))

    # ---- a template instance's box selects its layers
    label = browser.find_element(
        By.XPATH,
        "//*[local-name()='g'][contains(@class,'cluster')]/*[local-name()='text']"
        "[starts-with(., 'b1 ')]",
    )
    label.click()
    wait_for(
        browser, "the block's rows", lambda: js(browser, SELECTED_ROWS) == ["b1.conv", "b1.relu"]
    )
    assert js(browser, SELECTED_LINES) == [6, 7, 10]  # the template's layers, the instance

    # ---- edit a file of the served folder and save it
    editor = browser.find_element(By.ID, "source")
    editor.click()
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys('layer { name: "prob" type: "Softmax" }')
    wait_for(browser, "the new layer in the table", lambda: "prob" in js(browser, ROW_NAMES))
    assert browser.find_element(By.ID, "dirty").is_displayed()
    browser.find_element(By.ID, "save").click()
    wait_for(browser, "the file saved", lambda: '"prob"' in (folder / "mine.net").read_text())
    wait_for(
        browser, "the saved state", lambda: not browser.find_element(By.ID, "dirty").is_displayed()
    )

    # ---- open a zoo network
    Select(browser.find_element(By.ID, "picker")).select_by_value("zoo:alexnet.net")
    wait_for(browser, "AlexNet's table", lambda: "fc8" in js(browser, ROW_NAMES))
    wait_for(browser, "AlexNet's diagram", lambda: "fc8" in js(browser, SVG_TEXT))
    rows_before = js(browser, ROW_NAMES)
    assert rows_before[:3] == ["data", "conv1", "relu1"]
    params_before = browser.find_element(By.ID, "totals").text

    # ---- edit it: a new layer at the end; the table and the diagram follow
    editor.click()
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys('layer { name: "probe" type: "InnerProduct" num_output: 7 }')
    wait_for(browser, "the new row", lambda: js(browser, ROW_NAMES)[-1:] == ["probe"])
    wait_for(browser, "the new node", lambda: "probe · FC · 7" in js(browser, SVG_TEXT))
    wait_for(
        browser, "new totals", lambda: browser.find_element(By.ID, "totals").text != params_before
    )
    assert js(browser, ROW_NAMES)[:-1] == rows_before

    # ---- batch size is a control
    batch = browser.find_element(By.ID, "batch")
    batch.send_keys("4")
    wait_for(browser, "batch 4", lambda: "batch 4" in browser.find_element(By.ID, "totals").text)
    wait_for(browser, "the page settled", lambda: settled(browser))

    # ---- headings sort the table: MACs, largest first; a third click restores the order
    macs = browser.find_element(By.CSS_SELECTOR, "#layers th[data-sort='macs']")
    macs.click()
    values = js(
        browser,
        "return [...document.querySelectorAll('#layers tbody tr')]"
        ".map(tr => Number(tr.cells[5].title.replaceAll(',', '')))",
    )
    assert values == sorted(values, reverse=True) and values[0] > 0
    macs.click()
    macs.click()
    assert js(browser, ROW_NAMES)[:3] == ["data", "conv1", "relu1"]

    # ---- a node selects its row and its source line, and a row its node
    node = browser.find_element(
        By.XPATH, "//*[local-name()='g'][contains(@class,'node')][contains(., 'conv2 · Conv')]"
    )
    node.click()
    # relu2 is drawn folded into conv2's node: both rows, both lines
    wait_for(browser, "the selected rows", lambda: js(browser, SELECTED_ROWS) == ["conv2", "relu2"])
    lines = js(browser, TEXT).split("\n")
    expected = [i + 1 for i, line in enumerate(lines) if re.search('name: "(conv2|relu2)"', line)]
    assert js(browser, SELECTED_LINES) == expected
    row = browser.find_element(
        By.XPATH, "//table[@id='layers']//tr[td[@class='name'][text()='probe']]"
    )
    row.click()
    wait_for(browser, "the selected node", lambda: "probe · FC" in js(browser, SELECTED_NODE))
    assert js(browser, SELECTED_LINES) == [len(js(browser, TEXT).split("\n"))]
    # the node was below the visible part of the diagram: the view moved to show it
    inside = js(
        browser,
        "const a = document.querySelector('#canvas g.node.sel').getBoundingClientRect();"
        "const v = document.getElementById('viewport').getBoundingClientRect();"
        "return a.top >= v.top && a.bottom <= v.bottom",
    )
    assert inside
    screenshot(browser, tmp_path / "serve-edited.png")

    # ---- an error: marked at its line and column, with its message
    editor.click()
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys(Keys.ENTER, 'layer { name: "bad" type: "Convlution" }')
    wait_for(
        browser,
        "the inline marker",
        lambda: browser.find_elements(By.CSS_SELECTOR, "#highlight .squiggle"),
    )
    error_line = js(browser, "return document.getElementById('source').value.split('\\n').length")
    gutter = js(browser, "return document.querySelector('#gutter .err').textContent")
    assert gutter == str(error_line)
    scrolls = js(
        browser,
        "return ['source', 'gutter', 'highlight'].map(id => document.getElementById(id).scrollTop)",
    )
    assert len(set(scrolls)) == 1, scrolls  # numbers, marks and text scrolled together
    lens = browser.find_element(By.CSS_SELECTOR, "#highlight .lens").text
    assert 'unknown layer type "Convlution"' in lens and 'did you mean "Convolution"' in lens
    squiggle_left = js(
        browser, "return parseFloat(document.querySelector('#highlight .squiggle').style.left)"
    )
    char = js(
        browser, "return window.getComputedStyle(document.getElementById('source')).paddingLeft"
    )
    assert squiggle_left > float(char.rstrip("px")) + 20  # under the type, not at the line start
    problems = browser.find_element(By.ID, "problems")
    assert problems.is_displayed() and f":{error_line}:" in problems.text
    assert "error" in browser.find_element(By.ID, "status").get_attribute("class")
    artifact = ARTIFACTS / "serve-e2e.png"
    screenshot(browser, tmp_path / "serve-e2e.png", artifact)

    # ---- fixing it clears the marker
    editor.send_keys(Keys.BACKSPACE * len('layer { name: "bad" type: "Convlution" }'))
    wait_for(
        browser,
        "no marker",
        lambda: not browser.find_elements(By.CSS_SELECTOR, "#highlight .squiggle"),
    )
    wait_for(browser, "the page settled", lambda: settled(browser))

    readme = os.environ.get("NETC_SERVE_SCREENSHOT")
    if readme:
        readme_screenshot(browser, Path(readme))


def readme_screenshot(browser: Any, path: Path) -> None:
    """The README's picture: ResNet-50 from the zoo, a block selected."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.execute_script("window.confirm = () => true")  # discard the edits of the test
    Select(browser.find_element(By.ID, "picker")).select_by_value("zoo:resnet50.net")
    wait_for(browser, "ResNet-50", lambda: "layer4.2" in js(browser, ROW_NAMES))
    wait_for(browser, "its diagram", lambda: "layer4.2" in js(browser, SVG_TEXT))
    js(
        browser,
        "const b = document.getElementById('batch'); b.value = '';"
        "b.dispatchEvent(new Event('input'))",
    )
    wait_for(browser, "batch 1", lambda: "batch 1," in browser.find_element(By.ID, "totals").text)
    wait_for(browser, "the page settled", lambda: settled(browser))
    row = browser.find_element(
        By.XPATH, "//table[@id='layers']//tr[td[@class='name'][text()='layer1.0']]"
    )
    js(browser, "arguments[0].scrollIntoView({block: 'center'})", row)  # not under the header
    row.click()
    wait_for(
        browser, "a selection", lambda: browser.find_elements(By.CSS_SELECTOR, "#canvas g.node.sel")
    )
    screenshot(browser, path)


def test_artifact_folder_is_ignored_by_git() -> None:
    """The screenshot lands in out/, which the repository does not track."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    import subprocess

    result = subprocess.run(
        ["git", "check-ignore", "-q", "out/test-artifacts/serve-e2e.png"],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0
