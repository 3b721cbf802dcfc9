"""An HTML report as users see it: real headless Chromium (Debian's chromium and chromedriver)
driven by selenium 4, with axe-core from tests/axe (``npm ci --prefix tests/axe``). No test here:
``require()`` skips its caller, saying why, when something is missing (fails under
CI_CONFORMANCE_REQUIRE_BROWSER, as in .ci/run), and ``Browser.inspect`` measures one report."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDTH, HEIGHT = 1366, 800
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--window-size={WIDTH},{HEIGHT}"]  # fmt: skip

# the text of the elements' own text nodes that are rendered and lie within the first screen
FIRST_SCREEN = """
const out = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walk.nextNode(); node; node = walk.nextNode()) {
  const parent = node.parentElement;
  if (!node.textContent.trim() || !parent.checkVisibility({visibilityProperty: true})) continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  if ([...range.getClientRects()].some(r => r.height > 0 && r.top < arguments[0] && r.bottom > 0))
    out.push(node.textContent.trim());
}
return out.join(' ');
"""
# the selectors that have an element rendered within the first screen, and the links to a
# "#fragment" that names no element of the page
FIRST_SCREEN_HAS = """
return arguments[1].filter(sel => [...document.querySelectorAll(sel)].some(e => {
  const r = e.getBoundingClientRect(); return r.height > 0 && r.top < arguments[0] && r.bottom > 0; }));
"""
DEAD_LINKS = """
return [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href'))
  .filter(h => !document.getElementById(decodeURIComponent(h.slice(1))));
"""
SELECTORS = ["#cc-verdict", "#cc-first .root", "#cc-first a[href^='#contract-']", "#cc-next",
             "#cc-reproduce"]  # fmt: skip
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                          targets: v.nodes.slice(0, 3).map(n => n.target)}))))
  .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));
"""


@dataclass(frozen=True)
class Page:
    first_screen: str  # text rendered within the first HEIGHT px, JavaScript on
    scroll_width: int  # document.documentElement.scrollWidth in a WIDTH-px window
    text_without_js: str  # the page's visible text with JavaScript off
    violations: list[dict[str, Any]]  # axe-core's serious and critical ones
    first_screen_has: list[str]  # the SELECTORS with an element within the first screen
    dead_links: list[str]  # links to a #fragment that names no element


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, what in [(CHROMIUM, "Debian's chromium"), (CHROMEDRIVER, "Debian's chromium-driver")]:
        if not os.access(path, os.X_OK):
            return f"{what} is not installed ({path}; .ci/run installs it)"
    try:
        import selenium.webdriver  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not AXE.is_file():
        return f"axe-core is not installed ({AXE}; npm ci --prefix tests/axe)"
    return None


def require() -> None:
    reason = unavailable()
    if reason and os.environ.get("CI_CONFORMANCE_REQUIRE_BROWSER"):
        pytest.fail(f"the browser is required here: {reason}")
    if reason:
        pytest.skip(reason)


class Browser:
    """Two headless Chromiums, one with JavaScript and one without; close() ends both."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._dirs: list[str] = []
        self.drivers: list[Any] = []
        for extra in ([], ["--blink-settings=scriptEnabled=false"]):
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            self._dirs.append(tempfile.mkdtemp(prefix="ci-conformance-chromium-"))
            for flag in [*FLAGS, *extra, f"--user-data-dir={self._dirs[-1]}"]:
                options.add_argument(flag)
            if extra:
                options.add_experimental_option(
                    "prefs", {"profile.managed_default_content_settings.javascript": 2}
                )
            self.drivers.append(webdriver.Chrome(options=options, service=Service(CHROMEDRIVER)))
        self.js, self.no_js = self.drivers
        self.js.set_script_timeout(60)
        width, height = self.js.execute_script("return [innerWidth, innerHeight]")
        self.js.set_window_size(2 * WIDTH - width, 2 * HEIGHT - height)  # a 1366x800 viewport
        self._axe = AXE.read_text("utf-8")
        self._self_check()

    def _self_check(self) -> None:
        """JavaScript is really on in one and off in the other; axe-core really reports."""
        probe = Path(self._dirs[-1]) / "probe.html"
        probe.write_text("<p id=p>off</p><img src=x.png><script>"
                         "document.getElementById('p').textContent='on'</script>", "utf-8")  # fmt: skip
        for driver, expected in [(self.js, "on"), (self.no_js, "off")]:
            driver.get(probe.as_uri())
            text = self._text(driver)
            assert text == expected, f"JavaScript should be {expected}, the probe says {text!r}"
        assert "image-alt" in {v["id"] for v in self._axe_run()}, "axe-core found nothing"

    def _axe_run(self) -> list[dict[str, Any]]:
        self.js.execute_script(self._axe)
        return list(self.js.execute_async_script(AXE_RUN))

    @staticmethod
    def _text(driver: Any) -> str:
        from selenium.webdriver.common.by import By

        return str(driver.find_element(By.TAG_NAME, "body").text)

    def inspect(self, report: Path) -> Page:
        url = report.resolve().as_uri()
        self.no_js.get(url)
        text_without_js = self._text(self.no_js)
        self.js.get(url)
        size = self.js.execute_script("return [innerWidth, innerHeight]")
        assert size == [WIDTH, HEIGHT], f"the viewport is {size}, not {WIDTH}x{HEIGHT}"
        first = self.js.execute_script(FIRST_SCREEN, HEIGHT)
        wide = self.js.execute_script("return document.documentElement.scrollWidth")
        has = list(self.js.execute_script(FIRST_SCREEN_HAS, HEIGHT, SELECTORS))
        dead = list(self.js.execute_script(DEAD_LINKS))
        bad = [v for v in self._axe_run() if v["impact"] in ("serious", "critical")]
        return Page(first, int(wide), text_without_js, bad, has, dead)

    def close(self) -> None:
        for driver in self.drivers:
            driver.quit()
        for path in self._dirs:
            shutil.rmtree(path, ignore_errors=True)
