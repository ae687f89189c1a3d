"""Fixtures for the demo's browser tests: the real `concord` binary and headless Chromium sessions.

The server runs in development mode with short deadlines (a killed browser leaves presence about a
second later, typing lapses after 1.5 s). Chromium and chromedriver are Debian's, named by path so
that Selenium never looks for a browser of its own (which would need the network). Screenshots of
every state go to artifacts/browser/ (ignored by git).
"""

import json
import os
import pathlib
import re
import signal
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONCORD_BIN = os.environ.get("CONCORD_BIN", str(ROOT / ".build/debug/concord"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
ARTIFACTS = ROOT / "artifacts" / "browser"

TYPING_TTL = 1.5  # seconds; --typing-ttl below
# A data directory, so that a restart keeps the posts and the channels' history: pages recover
# what they missed instead of reloading everything (test_a_restart_leaves_no_stale_list).
DATA_DIR = tempfile.mkdtemp(prefix="concord-browser-")
SERVER_ARGS = [
    "serve", "--dev", "--data-dir", DATA_DIR, "--host", "127.0.0.1", "--drain-window", "300",
    "--ping-interval", "300", "--idle-timeout", "1000", "--typing-ttl", str(int(TYPING_TTL * 1000)),
]
# Generous: the suite must pass on a 2-core machine that is busy with other work.
WAIT = float(os.environ.get("BROWSER_TEST_WAIT", "20"))
LISTENING = re.compile(r"concord listening on http://127\.0\.0\.1:(\d+)")


class ConcordServer:
    """`concord serve` as a child process; restart() brings it back on the same port."""

    def __init__(self):
        self.port = 0
        self.process = None
        self.log = open(ARTIFACTS / "concord.log", "a", encoding="utf-8")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        if not os.access(CONCORD_BIN, os.X_OK):
            pytest.exit(f"concord binary not found at {CONCORD_BIN} (build it, or set CONCORD_BIN)", returncode=2)
        self.process = subprocess.Popen(
            [CONCORD_BIN, *SERVER_ARGS, "--port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        found = threading.Event()
        output = []

        def read(process):
            for line in process.stdout:
                self.log.write(line)
                self.log.flush()
                output.append(line)
                match = LISTENING.search(line)
                if match and not found.is_set():
                    self.port = int(match.group(1))
                    found.set()

        self.reader = threading.Thread(target=read, args=(self.process,), daemon=True)
        self.reader.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("concord did not start:\n" + "".join(output))

    def stop(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The reader ends at the output's end; it must not write to the log once that is closed.
        self.reader.join(5)

    def restart(self):
        self.stop()
        self.start()

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def create_post(self, title, body="", user="carol"):
        return self.request("POST", "/demo/api/posts", {"user": user, "title": title, "body": body})["post"]

    def post(self, post_id):
        return self.request("GET", f"/demo/api/posts/{post_id}")["post"]


def descendants(pid):
    """The process ids below `pid` (Chromium's browser, renderer, network and GPU processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class Page:
    """One browser session signed in to the demo as one user, with the waits the tests need."""

    def __init__(self, driver, server, user, test_name):
        self.driver = driver
        self.server = server
        self.user = user
        self.test_name = test_name
        self.killed = False

    # --- navigation ----------------------------------------------------------------------

    def open(self, hash_path="#/", user=True):
        query = f"?user={self.user}" if user else ""
        self.driver.get(f"{self.server.url}/demo{query}{hash_path}")
        if user:
            self.wait_until(lambda: self.attribute("connection", "data-state") == "connected", "never connected")
        return self

    def open_post(self, post_id):
        self.open(f"#/posts/{post_id}")
        self.wait_until(lambda: self.attribute("post-pane", "data-id") == str(post_id), f"post {post_id} not shown")
        # The form is filled (and the edit declared) once the record was read.
        self.wait_until(lambda: self.element("field-title").is_enabled(), "the edit form never opened")
        return self

    # --- reading the page ----------------------------------------------------------------

    def element(self, test, within=None):
        return (within or self.driver).find_element(By.CSS_SELECTOR, f'[data-test="{test}"]')

    def elements(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, test):
        return self.element(test).text

    def attribute(self, test, name):
        return self.element(test).get_attribute(name)

    def visible(self, test):
        return self.element(test).is_displayed()

    def value(self, test):
        return self.element(test).get_attribute("value")

    def viewers(self):
        """{user: connections} of the avatars shown in the open post's "Viewing now"."""
        return {item.get_attribute("data-user"): int(item.get_attribute("data-connections"))
                for item in self.elements('[data-test="viewers"] [data-test="avatar"]') if item.is_displayed()}

    def list_titles(self):
        return {item.get_attribute("data-id"): self.element("post-title", item).text
                for item in self.elements('[data-test="post-list"] [data-test="post-item"]')}

    def list_viewers(self, post_id):
        return {item.get_attribute("data-user") for item in self.elements(
            f'[data-test="post-item"][data-id="{post_id}"] [data-test="avatar"]')}

    # --- waiting -------------------------------------------------------------------------

    def wait_until(self, condition, message, timeout=WAIT):
        """Polls `condition` (a function of nothing) until it returns something truthy."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
            lambda _: condition(), f"{self.user}: {message}")

    def wait_text(self, test, expected, timeout=WAIT):
        self.wait_until(lambda: self.visible(test) and expected in self.text(test),
                        f'[data-test="{test}"] never showed {expected!r}', timeout)
        return self.text(test)

    def wait_hidden(self, test, timeout=WAIT):
        self.wait_until(lambda: not self.visible(test), f'[data-test="{test}"] still shown', timeout)

    def wait_visible(self, test, timeout=WAIT):
        self.wait_until(lambda: self.visible(test), f'[data-test="{test}"] never shown', timeout)

    # --- acting --------------------------------------------------------------------------

    def click(self, test):
        self.element(test).click()

    def type_into(self, test, text, clear=False):
        """Types at the end of a field (focusing it first), after emptying it when `clear`."""
        field = self.element(test)
        if clear:
            field.clear()
        field.send_keys(text)

    def screenshot(self, step):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{step}--{self.user}.png"
        self.driver.save_screenshot(str(path))
        return path

    def kill(self):
        """Kills the browser without closing anything: its sockets just go away."""
        driver_process = self.driver.service.process
        for pid in [*descendants(driver_process.pid), driver_process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        driver_process.wait(10)
        self.killed = True


def chromium(log_name):
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                     "--disable-backgrounding-occluded-windows", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(ARTIFACTS / log_name))
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="session")
def server():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*"):
        if old.is_file():
            old.unlink()
    concord = ConcordServer()
    concord.start()
    yield concord
    concord.stop()
    concord.log.close()
    shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def browser(server, request):
    """Opens a browser session as a user: `alice = browser("alice")`."""
    pages = []
    test_name = request.node.name.removeprefix("test_")

    def open_as(user):
        page = Page(chromium(f"chromedriver--{test_name}--{user}.log"), server, user, test_name)
        pages.append(page)
        return page

    yield open_as
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for page in pages:
        if page.killed:
            continue
        try:
            if failed:
                page.screenshot("failure")
            logs = page.driver.get_log("browser")
            if logs:
                with open(ARTIFACTS / f"{test_name}--console--{page.user}.log", "w", encoding="utf-8") as out:
                    out.writelines(f"{entry['level']} {entry['message']}\n" for entry in logs)
        except WebDriverException:
            pass
        finally:
            page.driver.quit()
