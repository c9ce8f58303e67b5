"""Debian's Chromium, headless, driven through Debian's chromedriver by Selenium, for the board's
tests: a person's browser, signed in with the sign-in form, on a real TaskFlow server.

Selenium is given both paths, so Selenium Manager never looks for (or downloads) a browser or a
driver of its own. Without them the tests fail, saying what to install: they never skip.
"""

import json
import os
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
# Set to a folder (relative to the repository) to keep the screenshots there too: docs/images.
SCREENSHOTS_SETTING = "TASKFLOW_SCREENSHOTS"
DEMO_PASSWORD = "taskflow-demo"


def chromium(*, network_log: bool = False) -> webdriver.Chrome:
    """A new headless Chromium; with `network_log`, it records the requests it makes (with their
    headers) and the WebSockets it opens, for `BoardBrowser.network()`."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            raise RuntimeError(f"{path} is missing: install {package} (scripts/ensure-system-packages does, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Root in a container has no user namespaces for Chromium's sandbox; the pages are TaskFlow's own.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(argument)
    options.add_argument("--lang=en-US")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network_log else {})})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class BoardBrowser:
    """One person's browser on a TaskFlow server at `base_url`."""

    def __init__(self, base_url: str, *, network_log: bool = False) -> None:
        self.base_url = base_url
        self.driver = chromium(network_log=network_log)

    def quit(self) -> None:
        self.driver.quit()

    def get(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def run(self, script: str, *arguments):
        return self.driver.execute_script(script, *arguments)

    def wait_until(self, predicate, *, timeout: float = 5, what: str = "the page to change"):
        """The first true value of `predicate()`, polled every 20 ms; TimeoutError after `timeout`."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(lambda _: predicate())
        except TimeoutException:
            raise TimeoutError(f"waited {timeout}s for {what}") from None

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        """Fill in and send the sign-in form."""
        if not self.path().startswith("/login/"):
            self.get("/login/")
        self.find("#id_username").clear()
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.find(".sign-in button[type=submit]").click()

    def open_board(self, project_id: int) -> None:
        self.get(f"/projects/{project_id}/")
        self.wait_until(lambda: self.live_state() == "live", timeout=10, what="the board to go live")

    def live_state(self) -> str | None:
        return self.run("return document.getElementById('live-status')?.dataset.state ?? null")

    def card(self, task_id: int):
        cards = self.find_all(f'.card[data-task="{task_id}"]')
        return cards[0] if cards else None

    def click_card(self, task_id: int) -> None:
        """Click a card, as a person does: the board may render it anew between finding and
        clicking it (a change, someone's presence), and then the new one is clicked."""
        for _ in range(5):
            try:
                self.card(task_id).click()
                return
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"card {task_id} kept being replaced")

    def column_of(self, task_id: int) -> str | None:
        """The status of the column that shows the card, or None when none does."""
        return self.run(
            "return document.querySelector(`.card[data-task='${arguments[0]}']`)?.closest('.column').dataset.status"
            " ?? null",
            task_id,
        )

    def card_text(self, task_id: int, css: str) -> str | None:
        return self.run(
            "return document.querySelector(`.card[data-task='${arguments[0]}'] ${arguments[1]}`)?.textContent ?? null",
            task_id,
            css,
        )

    def cards_in(self, status: str) -> list[int]:
        """The ids of a column's cards, in order (read in one go: the board replaces cards as it renders)."""
        return self.run(
            "return [...document.querySelectorAll(`.column[data-status='${arguments[0]}'] .card`)]"
            ".map((card) => Number(card.dataset.task))",
            status,
        )

    def titles_in(self, status: str) -> list[str]:
        return self.run(
            "return [...document.querySelectorAll(`.column[data-status='${arguments[0]}'] .card-title`)]"
            ".map((title) => title.textContent)",
            status,
        )

    def focused_card(self) -> int | None:
        return self.run("return Number(document.activeElement?.dataset?.task) || null")

    def drag_card(self, task_id: int, status: str) -> None:
        """Drag a card to the bottom of a column, as the browser does it: the HTML drag-and-drop
        events with one DataTransfer (chromedriver's pointer actions start no HTML drag)."""
        self.run(
            """
            const [card, column] = arguments;
            const transfer = new DataTransfer();
            const list = column.querySelector(".cards").getBoundingClientRect();
            const fire = (target, type, y) => target.dispatchEvent(new DragEvent(type, {
              bubbles: true, cancelable: true, dataTransfer: transfer, clientX: list.left + 20, clientY: y}));
            fire(card, "dragstart", 0);
            fire(column, "dragenter", list.bottom + 5);
            fire(column, "dragover", list.bottom + 5);
            fire(column, "drop", list.bottom + 5);
            fire(card, "dragend", 0);
            """,
            self.card(task_id),
            self.find(f'.column[data-status="{status}"]'),
        )

    def script_errors(self) -> list[str]:
        """The errors the page's scripts raised since the last call (uncaught ones included)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and entry["source"] in {"javascript", "console-api"}
        ]

    def network(self) -> list[dict]:
        """What the browser sent since the last call: `{"url", "headers"}` of each request and
        `{"url"}` of each WebSocket it opened (Chrome's DevTools network log)."""
        sent = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                request = message["params"]["request"]
                sent.append({"url": request["url"], "headers": request.get("headers", {})})
            elif message["method"] == "Network.webSocketCreated":
                sent.append({"url": message["params"]["url"], "headers": {}})
        return sent

    def screenshot(self, folder: Path, name: str) -> Path:
        """A PNG of the window in `folder`, and in the folder TASKFLOW_SCREENSHOTS names, if set."""
        path = folder / name
        self.driver.save_screenshot(str(path))
        wanted = os.environ.get(SCREENSHOTS_SETTING)
        if wanted:
            copy = ROOT / wanted / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
        return path


def within(seconds: float, predicate, *, what: str) -> float:
    """Seconds until `predicate()` is true, polled every 10 ms; TimeoutError after `seconds`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > seconds:
            raise TimeoutError(f"{what} did not happen within {seconds}s")
        time.sleep(0.01)
    return time.monotonic() - start
