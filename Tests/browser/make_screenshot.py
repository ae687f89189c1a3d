"""Regenerates docs/demo.png: the demo in two windows, Alice's and Bob's, side by side.

    python3 Tests/browser/make_screenshot.py     (from the repository root; CONCORD_BIN as for the tests)

It starts `concord serve --dev --memory`, plays a few seconds of two users on one post in headless
Chromium (Bob saves the title, Alice edits the body, Bob types a comment), then photographs both
windows and puts the two pictures side by side.
"""

import base64
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from conftest import ARTIFACTS, ROOT, ConcordServer, Page, chromium  # noqa: E402

WIDTH = 1000  # each window's viewport; its height is the page's, so nothing is cut off


def main():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = ConcordServer()
    server.start()
    pages = []
    try:
        for user in ("alice", "bob"):
            page = Page(chromium(f"chromedriver--screenshot--{user}.log"), server, user, "screenshot")
            page.driver.set_window_size(WIDTH, 900)
            pages.append(page)
        alice, bob = pages
        post = "2"
        alice.open_post(post)
        bob.open_post(post)
        alice.type_into("comment-box", "Nice: I can see you here.")
        alice.click("comment-send")
        bob.wait_until(lambda: "I can see you" in bob.text("comments"), "the comment did not arrive")

        bob.type_into("field-title", "Conflicts, caught before Save", clear=True)
        bob.click("save")
        bob.wait_text("save-status", "Saved.")
        alice.wait_text("stale-banner", "This post was updated by another user")
        alice.click("field-body")
        bob.wait_text("editors-body", "Alice is editing")
        bob.type_into("comment-box", "Renamed it, have a look")
        alice.wait_text("typing", "Bob is typing...")

        height = max(page.driver.execute_script("return document.documentElement.scrollHeight") for page in pages)
        shots = [whole_page(page.driver, height) for page in pages]
        compose(pages[0].driver, shots, height)
    finally:
        for page in pages:
            page.driver.quit()
        server.stop()
        server.log.close()


def whole_page(driver, height):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_script("window.scrollTo(0, 0)")
    return driver.get_screenshot_as_base64()


def compose(driver, shots, height):
    """Lays the two screenshots out side by side in a page of their own and photographs it."""
    cells = "".join(
        f'<figure><figcaption>{who}</figcaption><img src="data:image/png;base64,{shot}"></figure>'
        for who, shot in zip(("Alice’s window: /demo?user=alice", "Bob’s window: /demo?user=bob"), shots))
    html = f"""<!doctype html><meta charset="utf-8"><style>
      body {{ margin: 0; background: #c9ced8; font: 600 15px system-ui, sans-serif; color: #1d2330; }}
      main {{ display: flex; gap: 16px; padding: 16px; }}
      figure {{ margin: 0; background: #fff; border-radius: 8px; overflow: hidden; box-shadow: 0 2px 8px #0003; }}
      figcaption {{ padding: 8px 12px; background: #e8ebf0; }}
      img {{ display: block; width: {WIDTH}px; }}
    </style><main>{cells}</main>"""
    with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False, encoding="utf-8") as page:
        page.write(html)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 2 * WIDTH + 48, "height": height + 80, "deviceScaleFactor": 1, "mobile": False})
    driver.get(pathlib.Path(page.name).as_uri())
    width, height = driver.execute_script(
        "const r = document.querySelector('main').getBoundingClientRect(); return [Math.ceil(r.width), Math.ceil(r.height)];")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    target = ROOT / "docs" / "demo.png"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(base64.b64decode(driver.get_screenshot_as_base64()))
    pathlib.Path(page.name).unlink()
    print(f"wrote {target.relative_to(ROOT)} ({width}x{height})")


if __name__ == "__main__":
    main()
