"""The demo at /demo in real browsers: two headless Chromium sessions as two users against a real
`concord serve --dev`. Each test asserts what the pages show and saves a screenshot of each state
under artifacts/browser/. Tests create their own posts, so they do not depend on each other; the
offline test restarts the server and so runs last (pytest keeps the file's order).
"""

import urllib.request
import time

from conftest import TYPING_TTL, WAIT


def test_picker_then_connected(server, browser):
    alice = browser("alice").open(user=False)
    alice.wait_visible("user-picker")
    for user in ("alice", "bob", "carol", "dave"):
        assert alice.text(f"pick-{user}").endswith(user.capitalize())
    alice.screenshot("1-picker")

    alice.click("pick-alice")
    alice.wait_until(lambda: alice.attribute("connection", "data-state") == "connected", "never connected")
    assert alice.text("connection") == "Live"
    assert "You are Alice" in alice.text("me")
    assert not alice.visible("offline")
    alice.wait_until(lambda: {"1", "2", "3"} <= set(alice.list_titles()), "the seeded posts are not listed")
    assert alice.list_titles()["1"] == "Welcome to Concord"
    alice.screenshot("2-connected")


def test_presence_avatars_appear_and_disappear(server, browser):
    post = server.create_post("Presence in a browser")["id"]
    alice = browser("alice").open_post(post)
    bob = browser("bob").open_post(post)

    bob.wait_until(lambda: bob.viewers() == {"alice": 1, "bob": 1}, "alice and bob are not both shown")
    alice.wait_until(lambda: alice.viewers() == {"alice": 1, "bob": 1}, "alice and bob are not both shown")
    bob.wait_until(lambda: bob.list_viewers(post) == {"alice", "bob"}, "the list does not show who views the post")
    bob.screenshot("1-both-viewing")

    # A second tab of alice's: still one avatar, counting two tabs.
    first_tab = alice.driver.current_window_handle
    alice.driver.switch_to.new_window("tab")
    alice.driver.get(f"{server.url}/demo?user=alice#/posts/{post}")
    bob.wait_until(lambda: bob.viewers() == {"alice": 2, "bob": 1}, "alice's two tabs are not one avatar with 2 tabs")
    assert "2 tabs" in bob.element("viewers").text
    assert bob.element("viewers").text.count("Alice") == 1
    bob.screenshot("2-alice-has-two-tabs")
    alice.driver.close()
    alice.driver.switch_to.window(first_tab)
    bob.wait_until(lambda: bob.viewers() == {"alice": 1, "bob": 1}, "closing a tab did not count it down")

    # Closing the post leaves its presence at once.
    alice.click("close-post")
    bob.wait_until(lambda: bob.viewers() == {"bob": 1}, "alice still shown after she closed the post")
    bob.screenshot("3-alice-left")

    # Back again, then her browser is killed: no close frame, the server's idle deadline removes her.
    alice.open_post(post)
    bob.wait_until(lambda: bob.viewers() == {"alice": 1, "bob": 1}, "alice not shown after she came back")
    killed_at = time.monotonic()
    alice.kill()
    bob.wait_until(lambda: bob.viewers() == {"bob": 1}, "a killed session is still shown")
    bob.wait_until(lambda: bob.list_viewers(post) == {"bob"}, "the list still shows a killed session")
    print(f"killed session left presence after {time.monotonic() - killed_at:.1f} s")
    bob.screenshot("4-alice-killed")


def test_who_is_editing_which_field(server, browser):
    post = server.create_post("Who edits what")["id"]
    alice = browser("alice").open_post(post)
    bob = browser("bob").open_post(post)
    bob.wait_until(lambda: "alice" in bob.viewers(), "alice is not shown")

    alice.click("field-title")
    bob.wait_text("editors-title", "Alice is editing")
    assert bob.text("editors-body") == ""
    assert "editing title" in bob.element("viewers").text
    bob.screenshot("1-alice-edits-title")

    alice.click("field-body")
    bob.wait_text("editors-body", "Alice is editing")
    bob.wait_until(lambda: bob.text("editors-title") == "", "alice still shown on the title")
    bob.screenshot("2-alice-edits-body")

    alice.click("comment-box")  # out of the form: no field any more
    bob.wait_until(lambda: bob.text("editors-body") == "" and "editing" not in bob.element("viewers").text,
                   "alice still shown editing")


def test_typing_indicator_appears_and_clears_after_ttl(server, browser):
    post = server.create_post("Typing indicators")["id"]
    alice = browser("alice").open_post(post)
    bob = browser("bob").open_post(post)
    alice.wait_until(lambda: "bob" in alice.viewers(), "bob is not shown")
    assert alice.text("typing") == ""

    started = time.monotonic()
    bob.type_into("comment-box", "Hello Al")
    alice.wait_text("typing", "Bob is typing...")
    assert bob.text("typing") == "", "a user must not see their own typing"
    alice.screenshot("1-bob-is-typing")

    # Bob stops typing without sending: the indicator goes when the server's TTL lapses.
    alice.wait_until(lambda: alice.text("typing") == "", "the typing indicator never cleared",
                     timeout=TYPING_TTL + WAIT)
    elapsed = time.monotonic() - started
    assert elapsed >= TYPING_TTL * 0.8, f"cleared after {elapsed:.2f} s, before the {TYPING_TTL} s TTL"
    assert bob.value("comment-box") == "Hello Al"
    alice.screenshot("2-typing-lapsed")

    # Typing again, then sending: the indicator clears at once and the comment arrives live.
    bob.type_into("comment-box", "ice!")
    alice.wait_text("typing", "Bob is typing...")
    bob.click("comment-send")
    alice.wait_until(lambda: "Hello Alice!" in alice.text("comments"), "the comment did not arrive")
    # typing.stop went out before the comment was posted: the indicator is gone by now, well before the TTL.
    alice.wait_until(lambda: alice.text("typing") == "", "sending did not clear the typing indicator", timeout=1)
    assert bob.value("comment-box") == ""
    alice.screenshot("3-comment-arrived")


def test_list_refreshes_on_create_update_delete(server, browser):
    alice = browser("alice").open()
    bob = browser("bob").open()
    alice.wait_until(lambda: "1" in alice.list_titles(), "the list is empty")

    bob.type_into("new-post-title", "Fresh from Bob")
    bob.click("new-post-create")
    alice.wait_until(lambda: "Fresh from Bob" in alice.list_titles().values(), "a created post did not appear")
    post = next(key for key, title in alice.list_titles().items() if title == "Fresh from Bob")
    alice.screenshot("1-created")

    # Creating opens the new post in bob's window; he renames it.
    bob.wait_until(lambda: bob.attribute("post-pane", "data-id") == post, "the new post did not open")
    bob.wait_until(lambda: bob.element("field-title").is_enabled(), "the form did not open")
    bob.type_into("field-title", "Renamed by Bob", clear=True)
    bob.click("save")
    bob.wait_text("save-status", "Saved.")
    alice.wait_until(lambda: alice.list_titles().get(post) == "Renamed by Bob", "an update did not show")
    alice.screenshot("2-updated")

    # Alice opens it from her list; bob deletes it: gone from both lists, and alice's form says why.
    alice.driver.find_element("css selector", f'[data-test="post-item"][data-id="{post}"] a').click()
    alice.wait_until(lambda: alice.element("field-title").is_enabled(), "the post did not open from the list")
    bob.wait_until(lambda: "alice" in bob.viewers(), "alice is not shown on the post")
    bob.click("delete")
    bob.wait_until(lambda: not bob.visible("post-pane"), "deleting did not close the post")
    alice.wait_until(lambda: post not in alice.list_titles(), "a deleted post is still listed")
    alice.wait_text("deleted-banner", "This post was deleted by Bob.")
    assert not alice.element("field-title").is_enabled()
    assert post not in bob.list_titles()
    alice.screenshot("3-deleted")


def test_updated_by_another_user_banner_before_save(server, browser):
    post = server.create_post("Early warning", "Original body")["id"]
    alice = browser("alice").open_post(post)
    bob = browser("bob").open_post(post)
    assert not alice.visible("stale-banner")

    bob.type_into("field-title", "Bob's title", clear=True)
    bob.click("save")
    bob.wait_text("save-status", "Saved.")

    # Alice has not pressed Save: the warning arrives by itself.
    text = alice.wait_text("stale-banner", "This post was updated by another user")
    assert "Bob changed title (“Bob's title”)" in text
    assert alice.value("field-title") == "Early warning"
    assert not bob.visible("stale-banner"), "the writer is not warned about their own save"
    alice.screenshot("1-banner")

    alice.click("load-latest")
    alice.wait_hidden("stale-banner")
    alice.wait_until(lambda: alice.value("field-title") == "Bob's title", "load latest did not load bob's title")
    assert alice.value("field-body") == "Original body"
    alice.screenshot("2-latest-loaded")


def test_conflict_on_the_same_field_then_keep_my_changes(server, browser):
    post = server.create_post("Conflicts", "Body v1")["id"]
    alice = browser("alice").open_post(post)
    bob = browser("bob").open_post(post)

    alice.type_into("field-title", "Alice's title", clear=True)
    alice.type_into("field-body", "Alice's body", clear=True)
    bob.type_into("field-title", "Bob's title", clear=True)
    bob.click("save")
    bob.wait_text("save-status", "Saved.")

    alice.wait_text("stale-banner", "This post was updated by another user")
    alice.click("keep-mine")  # keep editing: the warning goes, the form keeps her text
    alice.wait_hidden("stale-banner")
    assert alice.value("field-title") == "Alice's title"

    alice.click("save")
    alice.wait_visible("conflict-banner")
    marker = alice.wait_text("conflict-title", "Conflict: Bob saved this field")
    assert "“Bob's title”" in marker
    assert not alice.visible("conflict-body"), "only the title conflicts"
    assert "has-conflict" in alice.driver.find_element("id", "conflict-title").find_element("xpath", "..").get_attribute("class")
    assert server.post(post)["title"] == "Bob's title", "a conflicting save must not be written"
    alice.screenshot("1-conflict-on-title")

    alice.click("conflict-keep-mine")
    alice.wait_text("save-status", "Saved: your changes were kept.")
    alice.wait_hidden("conflict-banner")
    assert not alice.visible("conflict-title")
    stored = server.post(post)
    assert (stored["title"], stored["body"]) == ("Alice's title", "Alice's body")
    alice.screenshot("2-kept")

    # Bob, still editing, is told at once, and his list shows alice's title.
    bob.wait_text("stale-banner", "Alice changed")
    bob.wait_until(lambda: bob.list_titles().get(post) == "Alice's title", "bob's list did not update")
    bob.screenshot("3-bob-warned")


def test_edits_of_different_fields_merge(server, browser):
    post = server.create_post("Merging", "Body v1")["id"]
    alice = browser("alice").open_post(post)
    bob = browser("bob").open_post(post)

    bob.type_into("field-body", "Bob's body", clear=True)
    bob.click("save")
    bob.wait_text("save-status", "Saved.")
    alice.wait_text("stale-banner", "Bob changed body")

    alice.type_into("field-title", "Alice's title", clear=True)
    alice.click("save")
    alice.wait_text("save-status", "Saved.")
    assert not alice.visible("conflict-banner")
    stored = server.post(post)
    assert (stored["title"], stored["body"]) == ("Alice's title", "Bob's body")
    alice.screenshot("1-merged")


def test_offline_indicator_while_the_server_is_down(server, browser):
    # Runs after the others but one: the server restarts (its data directory keeps the posts).
    alice = browser("alice").open_post("1")
    bob = browser("bob").open_post("1")
    bob.wait_until(lambda: bob.viewers() == {"alice": 1, "bob": 1}, "alice is not shown")
    assert not alice.visible("offline")

    server.stop()
    for page in (alice, bob):
        page.wait_text("offline", "You are offline")
        page.wait_until(lambda page=page: page.text("connection") == "Offline", "the pill does not say Offline")
    alice.screenshot("1-offline")
    bob.screenshot("1-offline")

    server.restart()  # the same port: the clients come back by themselves
    for page in (alice, bob):
        page.wait_hidden("offline", timeout=WAIT + 15)  # the reconnect backoff may be at several seconds
        page.wait_until(lambda page=page: page.text("connection") == "Live", "the pill does not say Live")
    # Presence is restored by the client after the reconnect.
    bob.wait_until(lambda: bob.viewers() == {"alice": 1, "bob": 1}, "presence not restored after the restart")
    alice.wait_until(lambda: alice.viewers() == {"alice": 1, "bob": 1}, "presence not restored after the restart")
    alice.screenshot("2-back-online")
    bob.screenshot("2-back-online")


def test_a_restart_leaves_no_stale_list(server, browser):
    # Runs last. Alice's list is open; the server restarts; bob, back first, creates a post while
    # alice's page is still away. When it returns, it recovers the event it missed from the
    # channel's history (kept in the data directory across the restart): her list shows the post
    # without a reload, and nothing is shown twice.
    alice = browser("alice").open()
    bob = browser("bob").open()
    alice.wait_until(lambda: "1" in alice.list_titles(), "the list is empty")
    before = len(alice.list_titles())

    server.stop()
    alice.wait_text("offline", "You are offline")
    # Alice's network stays down (the browser's own offline mode) until bob's post is made.
    alice.driver.execute_cdp_cmd("Network.enable", {})
    network = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    alice.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, **network})
    server.start()
    bob.wait_hidden("offline", timeout=WAIT + 15)
    bob.type_into("new-post-title", "Made during the restart")
    bob.click("new-post-create")
    bob.wait_until(lambda: "Made during the restart" in bob.list_titles().values(), "bob's post was not created")
    assert "Made during the restart" not in alice.list_titles().values()
    alice.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, **network})

    alice.wait_hidden("offline", timeout=WAIT + 15)
    alice.wait_until(lambda: "Made during the restart" in alice.list_titles().values(), "alice's list stayed stale")
    assert len(alice.list_titles()) == before + 1
    # Through recovery, not a reload: the restarted server replayed, and told nobody to refetch.
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = dict(line.rsplit(" ", 1) for line in response.read().decode().splitlines() if line and not line.startswith("#"))
    assert float(metrics["concord_recoveries_total"]) >= 2, metrics["concord_recoveries_total"]
    assert float(metrics["concord_recoveries_failed_total"]) == 0
    assert float(metrics["concord_events_replayed_total"]) >= 1
    alice.screenshot("1-recovered")

