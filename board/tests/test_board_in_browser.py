"""The board in a real browser (Chromium through Selenium) on TaskFlow as `make run` serves it (the
embedded default with the demo data: SQLite, the in-memory channel layer, Daphne): signing in,
two members' boards kept live, moving by drag and drop and by keyboard, creating, commenting,
attaching, a conflicting edit, presence, the page's token, and a server restart.

One server and three browsers for the module (two signed-in members and a signed-out guest);
each test makes the cards it works on. Screenshots go to a temporary folder, and into
docs/images too with TASKFLOW_SCREENSHOTS=docs/images.
"""

import subprocess
import sys

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from board.tests.browser import DEMO_PASSWORD, BoardBrowser, within
from realtime.tests.servers import ROOT, api

# A change must reach the other member's board within this.
LIVE_SECONDS = 1.0

# One pytest-xdist worker runs the whole module (`--dist loadgroup`, Makefile): its server and
# browsers are started once, not once per worker.
pytestmark = [pytest.mark.xdist_group("board-browsers")]


@pytest.fixture(scope="module")
def server(embedded_taskflow):
    return embedded_taskflow


@pytest.fixture(scope="module")
def owner_token(server) -> str:
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": "demo-owner", "password": DEMO_PASSWORD})
    assert status == 200, tokens
    return tokens["access"]


@pytest.fixture(scope="module")
def project_id(server, owner_token) -> int:
    [project] = api(server, "GET", "/api/projects/", token=owner_token)[1]["results"]
    return project["id"]


def signed_in(server, project_id, username: str, **options) -> BoardBrowser:
    browser = BoardBrowser(server.http, **options)
    browser.sign_in(username)
    browser.wait_until(lambda: browser.path() == "/", what="the projects page")
    browser.open_board(project_id)
    return browser


@pytest.fixture(scope="module")
def member(server, project_id):
    """demo-member's browser, on the demo project's board (its network is recorded)."""
    browser = signed_in(server, project_id, "demo-member", network_log=True)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def admin(server, project_id):
    """demo-admin's browser, on the same board."""
    browser = signed_in(server, project_id, "demo-admin")
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def guest(server):
    """A browser nobody signed in with."""
    browser = BoardBrowser(server.http)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def new_task(server, owner_token, project_id):
    """`new_task(title, **fields)`: a task made by demo-owner over the API."""

    def make(title: str, **fields) -> dict:
        body = {"project": project_id, "title": title, **fields}
        status, task = api(server, "POST", "/api/tasks/", body, token=owner_token)
        assert status == 201, task
        return task

    return make


@pytest.fixture(autouse=True)
def _pages_without_script_errors(request):
    """After each test: no page raised a script error; and no dialog is left open (a test that
    failed with one open leaves it to no other test)."""
    browsers = [request.getfixturevalue(name) for name in ("member", "admin", "guest") if name in request.fixturenames]
    yield
    for browser in browsers:
        browser.run("for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close()")
    assert [error for browser in browsers for error in browser.script_errors()] == []


def read_task(server, owner_token, task_id: int) -> dict:
    status, task = api(server, "GET", f"/api/tasks/{task_id}/", token=owner_token)
    assert status == 200, task
    return task


def shown(browser: BoardBrowser, task: dict) -> None:
    browser.wait_until(lambda: browser.card(task["id"]) is not None, what=f"card {task['title']!r} to show")


def open_card(browser: BoardBrowser, task_id: int) -> None:
    browser.click_card(task_id)
    browser.wait_until(lambda: browser.run("return document.getElementById('card-dialog').open"), what="the card")


def close_card(browser: BoardBrowser) -> None:
    browser.find("#card-dialog [data-close]").click()
    browser.wait_until(lambda: not browser.run("return document.getElementById('card-dialog').open"), what="closing")


# --- Signing in -----------------------------------------------------------------------------


def test_a_signed_out_visitor_to_the_board_is_sent_to_sign_in(guest):
    guest.driver.delete_all_cookies()
    guest.get("/")
    assert guest.path() == "/login/?next=/"
    assert guest.find("h1").text == "Sign in"


def test_signing_in_with_a_wrong_password_says_so(guest):
    guest.driver.delete_all_cookies()
    guest.get("/login/")
    guest.sign_in("demo-member", "not-the-password")
    guest.wait_until(lambda: guest.find_all(".error"), what="an error")
    assert "username or password is not right" in guest.find(".error").text
    assert guest.path().startswith("/login/")


def test_signing_in_leads_to_the_projects_and_to_a_live_board(guest, project_id):
    guest.driver.delete_all_cookies()
    guest.get("/")
    guest.sign_in("demo-viewer")
    guest.wait_until(lambda: guest.path() == "/", what="the projects page")
    guest.find(".project-list a").click()
    guest.wait_until(lambda: guest.live_state() == "live", timeout=10, what="the board to go live")
    assert guest.path() == f"/projects/{project_id}/"
    assert [column.text for column in guest.find_all(".column h2 .label")] == [
        "To do",
        "In progress",
        "Done",
        "Cancelled",
    ]
    # A viewer reads: no forms to add cards.
    assert not any(form.is_displayed() for form in guest.find_all(".add-card"))


# --- Live, and moving -----------------------------------------------------------------------


def test_a_card_dragged_on_one_board_moves_on_the_other_within_a_second(
    server, owner_token, member, admin, new_task, screenshots
):
    checklist = [{"text": "Venue", "done": True}, {"text": "Speakers"}, {"text": "Catering"}]
    task = new_task("Draft the launch checklist", priority="high", labels=["launch"], checklist=checklist)
    shown(member, task)
    shown(admin, task)
    member.drag_card(task["id"], "in_progress")
    assert member.column_of(task["id"]) == "in_progress"  # shown at once where it was dropped
    within(LIVE_SECONDS, lambda: admin.column_of(task["id"]) == "in_progress", what="the move on the other board")
    assert admin.cards_in("in_progress")[-1] == task["id"]
    stored = read_task(server, owner_token, task["id"])
    assert stored["status"] == "in_progress"
    assert stored["version"] == task["version"] + 1
    assert admin.card_text(task["id"], ".checklist-progress") == "1/3 done"


def test_keyboard_alone_moves_a_card_and_the_move_is_saved(server, owner_token, member, new_task, project_id):
    task = new_task("Book the venue", labels=["launch"])
    member.open_board(project_id)  # the page anew, the focus at its top, as a person arrives
    shown(member, task)
    keys = ActionChains(member.driver)
    for _ in range(10):
        keys.send_keys(Keys.TAB).perform()
        if member.focused_card():
            break
    while member.focused_card() != task["id"]:
        # The new card is the last of To do: go down to it.
        before = member.focused_card()
        keys.send_keys(Keys.ARROW_DOWN).perform()
        assert member.focused_card() != before, "arrow down did not reach the new card"
    keys.key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(Keys.SHIFT).perform()
    member.wait_until(lambda: member.column_of(task["id"]) == "in_progress", what="the card in In progress")
    assert member.focused_card() == task["id"]  # the card keeps the focus as it moves
    member.wait_until(lambda: "moved to In progress" in member.find("#announcer").get_attribute("textContent"))
    keys.key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(Keys.SHIFT).perform()
    member.wait_until(lambda: read_task(server, owner_token, task["id"])["status"] == "done", what="the move saved")
    assert member.column_of(task["id"]) == "done"


def test_a_card_created_on_one_board_appears_on_the_other(member, admin):
    title = "Write the launch post"
    field = member.find('.add-card[data-status="todo"] input')
    field.send_keys(title, Keys.ENTER)
    admin.wait_until(lambda: title in admin.titles_in("todo"), what="the new card on the other board")
    assert field.get_attribute("value") == ""


def test_a_comment_counts_on_the_other_board(member, admin, new_task):
    task = new_task("Review the pricing page", status="in_progress", priority="urgent")
    shown(member, task)
    shown(admin, task)
    assert admin.card_text(task["id"], ".comment-count") == "0 comments"
    open_card(member, task["id"])
    member.find("#comment-body").send_keys("Looks good to me <b>really</b>")
    member.find("#comment-form button[type=submit]").click()
    member.wait_until(lambda: member.find_all("#card-comments .comment"), what="the comment in the card")
    # Shown as written: text, never markup.
    assert member.find("#card-comments .comment-body").text == "Looks good to me <b>really</b>"
    within(LIVE_SECONDS, lambda: admin.card_text(task["id"], ".comment-count") == "1 comment", what="the count")
    close_card(member)


def test_an_attached_file_appears_in_the_card(member, admin, new_task, tmp_path, screenshots):
    task = new_task("Plan the launch")
    shown(member, task)
    upload = tmp_path / "launch-plan.txt"
    upload.write_text("Monday: announce.\n")
    open_card(member, task["id"])
    member.find("#attachment-file").send_keys(str(upload))
    member.find("#attachment-form button[type=submit]").click()
    member.wait_until(lambda: member.find_all("#card-attachments .attachment"), what="the file in the card")
    assert member.find("#card-attachments .filename").text == "launch-plan.txt"
    open_card(admin, task["id"])
    admin.wait_until(lambda: admin.find_all("#card-attachments .attachment"), what="the file on the other board")
    assert admin.find("#card-attachments .attachment").text.startswith("launch-plan.txt (18 B)")
    admin.screenshot(screenshots, "card.png")
    close_card(admin)
    close_card(member)


def test_who_looks_at_the_board_and_at_a_card_is_shown(member, admin, new_task, screenshots):
    task = new_task("Choose the beta testers", status="done", labels=["beta"])
    shown(member, task)
    shown(admin, task)
    admin.wait_until(lambda: "demo-member" in admin.find("#presence").text, what="the other member on the board")
    open_card(member, task["id"])
    admin.wait_until(
        lambda: admin.card_text(task["id"], ".card-viewers") == "Looking: demo-member", what="who looks at the card"
    )
    admin.run("window.scrollTo(0, 0)")
    admin.screenshot(screenshots, "board.png")
    close_card(member)  # back on the card, which keeps the focus: still looking at it
    member.find(".board-head h1").click()  # elsewhere on the page: at no card
    admin.wait_until(lambda: admin.card_text(task["id"], ".card-viewers") is None, what="the card left")


def test_a_conflicting_edit_shows_the_current_value_and_applying_again_works(
    server, owner_token, member, admin, new_task, screenshots
):
    task = new_task("Announce the beta")
    shown(member, task)
    open_card(member, task["id"])
    title = member.find("#card-title")
    title.clear()
    title.send_keys("Announce the beta on Monday")
    # Meanwhile the admin retitles the same card, and saves first.
    open_card(admin, task["id"])
    admin.find("#card-title").clear()
    admin.find("#card-title").send_keys("Announce the public beta")
    admin.find("#card-form button[type=submit]").click()
    admin.wait_until(lambda: admin.find("#card-message").text == "Saved.", what="the admin's save")
    member.wait_until(lambda: "Someone else changed" in member.find("#card-notice").text, what="the notice")
    member.find("#card-form button[type=submit]").click()
    member.wait_until(lambda: member.run("return document.getElementById('conflict-dialog').open"), what="the conflict")
    row = member.find('#conflict-rows tr[data-field="title"]')
    assert row.find_element("css selector", ".current").text == "Announce the public beta"
    assert row.find_element("css selector", ".yours").text == "Announce the beta on Monday"
    member.screenshot(screenshots, "conflict.png")
    member.find("#conflict-apply").click()
    member.wait_until(lambda: member.find("#card-message").text == "Saved.", what="the change applied again")
    stored = read_task(server, owner_token, task["id"])
    assert stored["title"] == "Announce the beta on Monday"
    assert stored["version"] == task["version"] + 2
    within(
        LIVE_SECONDS,
        lambda: admin.find("#card-dialog-title").text == "Announce the beta on Monday",
        what="the title on the other board",
    )
    close_card(admin)
    close_card(member)


def test_replayed_events_take_no_card_back_and_count_no_comment_twice(member):
    # The board's state as the page's own module keeps it: loaded at version 3 and with the comment
    # counts of seq 10, then following from an older seq (the smaller of the load's two).
    result = member.driver.execute_async_script(
        """
        const done = arguments[0];
        import("/static/board/state.js").then(({ BoardState }) => {
          const state = new BoardState();
          const task = { id: 1, version: 3, status: "done", position: 0, title: "Loaded" };
          const counts = { event_seq: 10, counts: [{ task: 1, count: 2 }] };
          state.load({ project: {}, members: [], tasks: [task], counts });
          state.apply({ seq: 9, event: "task.updated", data: { ...task, version: 2, status: "todo" } });
          state.apply({ seq: 9, event: "comment.created", data: { id: 7, task: 1 } });
          state.apply({ seq: 11, event: "comment.created", data: { id: 8, task: 1 } });
          state.apply({ seq: 12, event: "task.updated", data: { ...task, version: 4, title: "Later" } });
          const { title, status } = state.tasks.get(1);
          done({ title, status, comments: state.commentCounts.get(1) });
        });
        """
    )
    assert result == {"title": "Later", "status": "done", "comments": 3}


def test_a_member_removed_from_the_project_is_told_and_the_board_stops(server, owner_token, project_id, guest):
    guest.driver.delete_all_cookies()
    guest.get("/login/")
    guest.sign_in("demo-viewer")
    guest.wait_until(lambda: guest.path() == "/", what="the projects page")
    guest.open_board(project_id)
    members = api(server, "GET", f"/api/projects/{project_id}/members/", token=owner_token)[1]["results"]
    [viewer] = [member["user"] for member in members if member["username"] == "demo-viewer"]
    status, _ = api(server, "DELETE", f"/api/projects/{project_id}/members/{viewer}/", token=owner_token)
    assert status == 204
    try:
        guest.wait_until(lambda: guest.live_state() == "revoked", what="the board to say access ended")
        assert "no longer have access" in guest.find("#live-status").text
    finally:
        body = {"user": "demo-viewer", "role": "viewer"}
        assert api(server, "POST", f"/api/projects/{project_id}/members/", body, token=owner_token)[0] == 201


# --- The page's token -----------------------------------------------------------------------

ASK_FOR_A_TOKEN = """
const [withCsrf, done] = [arguments[0], arguments[arguments.length - 1]];
const headers = withCsrf ? {"X-CSRFToken": document.getElementById("board").dataset.csrfToken} : {};
fetch("/api/auth/session/token/", {method: "POST", headers})
  .then(async (response) => done({status: response.status, body: await response.json()}));
"""


def test_the_session_token_needs_the_csrf_token_and_works_on_the_api(server, member):
    assert member.driver.execute_async_script(ASK_FOR_A_TOKEN, False)["status"] == 403
    answer = member.driver.execute_async_script(ASK_FOR_A_TOKEN, True)
    assert answer["status"] == 200
    status, me = api(server, "GET", "/api/auth/me/", token=answer["body"]["access"])
    assert (status, me["username"]) == (200, "demo-member")


def test_the_session_token_needs_a_session(guest):
    guest.driver.delete_all_cookies()
    guest.get("/login/")
    answer = guest.driver.execute_async_script(
        "const done = arguments[0]; fetch('/api/auth/session/token/', {method: 'POST'})"
        ".then((response) => done(response.status));"
    )
    assert answer == 403


def test_the_pages_token_is_in_no_url_and_no_storage(server, member, project_id):
    member.network()  # forget what was sent before
    member.open_board(project_id)  # loads the board anew: a new token, its requests, its WebSocket
    sent = member.network()
    tokens = {
        request["headers"]["Authorization"].removeprefix("Bearer ")
        for request in sent
        if request["headers"].get("Authorization", "").startswith("Bearer ")
    }
    assert tokens, "the page sent no bearer token"
    assert [request["url"] for request in sent if request["url"].startswith("ws")] == [server.ws]
    for request in sent:
        for token in tokens:
            assert token not in request["url"]
    kept = member.run("return [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
    visited = member.run("return performance.getEntries().map((entry) => entry.name)")
    for token in tokens:
        assert not any(token in text for text in kept)
        assert not any(token in url for url in visited)
        assert token not in server.log()


# --- Across a server restart ----------------------------------------------------------------

CHANGE_WHILE_DOWN = """
from accounts.models import User
from tasks import services
from tasks.models import Task
owner = User.objects.get(username="demo-owner")
services.task_update(task=Task.objects.get(pk={task_id}), actor=owner, data={{"title": "{title}"}}, operator=True)
"""


def test_after_a_server_restart_the_board_reconnects_and_catches_up_without_a_reload(
    server, admin, new_task, screenshots
):
    task = new_task("Before the restart", status="cancelled")
    shown(admin, task)
    admin.run("window.loadedBeforeTheRestart = true")
    server.stop()
    admin.wait_until(lambda: admin.live_state() == "reconnecting", what="the board to say it reconnects")
    assert admin.find("#live-status").text == "Reconnecting…"
    assert admin.find("#live-status").is_displayed()
    admin.screenshot(screenshots, "reconnecting.png")
    # A change while the server is down, written to its database: only the event log has it.
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            CHANGE_WHILE_DOWN.format(task_id=task["id"], title="While it was down"),
        ],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    server.start()
    admin.wait_until(lambda: admin.live_state() == "live", timeout=20, what="the board to be live again")
    admin.wait_until(
        lambda: admin.card_text(task["id"], ".card-title") == "While it was down", what="the change made meanwhile"
    )
    assert admin.run("return window.loadedBeforeTheRestart") is True  # the same page: not reloaded
