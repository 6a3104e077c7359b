"""Sign-in and least privilege in a real browser, on a dashboard that requires operators to sign in
(DASHBOARD_AUTH=users, a users file made by `./dev users init`'s code)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from classifier.packaging import build_lambda_zip
from tests.browser.conftest import ROOT, running_dashboard, settled
from tests.conftest import DEFAULT_ENDPOINT

pytestmark = pytest.mark.browser

FUNCTION, ROLE = "sec-browser-predict", "sec-browser-lambda"


@contextlib.contextmanager
def users_dashboard(localcloud, folder: Path) -> Iterator[tuple[str, str]]:
    """A just-started dashboard requiring sign-in from a fresh users file (`./dev users init`'s code): (url, the
    first operator's password as `users init` printed it)."""
    users = folder / "users.json"
    printed = subprocess.run(
        [sys.executable, "-m", "services.security.users", "init"],
        cwd=ROOT,
        env={"DASHBOARD_USERS_FILE": str(users), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    password = re.search(r"Password \(shown only now\): (\S+)", printed).group(1)
    env = {"DASHBOARD_AUTH": "users", "DASHBOARD_USERS_FILE": str(users), "DASHBOARD_VIEWER_ROLE": "browser-viewer"}
    with running_dashboard(localcloud, folder, **env) as url:
        yield url, password


def sign_in(page, url: str, password: str) -> None:
    """Open the dashboard, type the first operator's name and password, click Sign in, and see it took."""
    page.goto(url)
    settled(page)
    page.get_by_role("textbox", name="User name").fill("admin")
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as admin (operator)")).to_be_visible()


@pytest.fixture(scope="module")
def signed_dashboard(localcloud, tmp_path_factory):
    """(url, the first operator's password), for the module's tests."""
    with users_dashboard(localcloud, tmp_path_factory.mktemp("signed-dashboard")) as found:
        yield found


@pytest.fixture(scope="module")
def broad_function(localcloud, tmp_path_factory) -> str:
    """A function of its own on a role as broad as the original project's (the default stays untouched)."""
    iam = localcloud.client("iam")
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )["Role"]["Arn"]
    for name in ("service-role/AWSLambdaBasicExecutionRole", "AmazonSageMakerFullAccess"):
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=f"arn:aws:iam::aws:policy/{name}")
    localcloud.client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Role=arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": build_lambda_zip(tmp_path_factory.mktemp("zip") / "function.zip").read_bytes()},
        Timeout=30,
        Environment={"Variables": {"ENDPOINT_NAME": DEFAULT_ENDPOINT}},
    )
    return FUNCTION


def test_a_viewer_sees_no_train_link_and_is_refused_at_its_url(page, signed_dashboard):
    url, _ = signed_dashboard
    page.goto(url)
    expect(page.get_by_text("Viewing as a guest")).to_be_visible()
    expect(page.get_by_role("link", name="Predict")).to_be_visible()
    expect(page.get_by_role("link", name="Train")).to_have_count(0)
    expect(page.get_by_role("link", name="Security")).to_have_count(0)
    page.goto(f"{url}/train")
    expect(page.get_by_text("The Train page is for operators")).to_be_visible()
    expect(page.get_by_role("tab", name="Launch")).to_have_count(0)
    assert "Traceback" not in page.inner_text("body")


def test_an_operator_applies_least_privilege_and_the_function_still_classifies(
    page, signed_dashboard, broad_function, dog_photo
):
    sign_in(page, *signed_dashboard)
    page.get_by_role("link", name="Security").click()
    page.get_by_text("Least privilege", exact=True).click()
    page.get_by_role("combobox", name="Function").click()
    page.get_by_role("option", name=broad_function).click()
    page.get_by_role("button", name="Generate least-privilege policy").click()
    expect(page.get_by_text(f"Proposed inline policy for {ROLE}")).to_be_visible()
    page.get_by_role("button", name=f"Apply to {ROLE}").click()
    expect(page.get_by_text("removes 2 policies")).to_be_visible()
    page.get_by_role("button", name="Remove 2 policies and apply").click()
    expect(page.get_by_text(f"Applied least-privilege to {ROLE}")).to_be_visible()
    expect(page.get_by_text("The role has this plan now")).to_be_visible()

    page.get_by_role("button", name="Verify by simulation").click()
    expect(page.get_by_text(re.compile(r"(\d+) of \1 simulated requests decided as expected"))).to_be_visible()
    page.locator("input[type=file]").last.set_input_files(str(dog_photo))
    page.get_by_role("button", name="Prove by real work").click()
    expect(page.get_by_text(re.compile(r"Proven \d+ s after Apply"))).to_be_visible(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")


def pick_first_row(page) -> None:
    """Tick the first row of the page's data grid: its selection box is drawn on a canvas, at the left of the
    row under the header."""
    grid = page.get_by_test_id("stDataFrame").last
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)


@pytest.mark.usefixtures("broad_function")  # a CreateRole and a CreateFunction to look up
def test_the_event_history_shows_a_picked_event_s_record_and_a_new_lookup_starts_unpicked(page, signed_dashboard):
    sign_in(page, *signed_dashboard)
    page.get_by_role("link", name="Security").click()
    page.get_by_text("Event history", exact=True).click()
    expect(page.get_by_text(re.compile(r"^\d+ event\(s\), newest first: every event"))).to_be_visible()
    page.get_by_role("combobox", name="Lookup attribute").click()
    page.get_by_role("option", name="EventName", exact=True).click()
    page.get_by_role("textbox", name="Value").fill("CreateFunction")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_text(re.compile(r"event\(s\), newest first: EventName = CreateFunction"))).to_be_visible()
    settled(page)
    pick_first_row(page)
    expect(page.get_by_text(re.compile(r"^CreateFunction by "))).to_be_visible()
    expect(page.get_by_text('"functionName"').first).to_be_visible()  # the record, whichever function is newest
    page.get_by_role("textbox", name="Value").fill("CreateRole")
    page.get_by_role("button", name="Look up").click()  # the picked row's number is not carried over
    expect(page.get_by_text("Pick a row to read its whole CloudTrail record.")).to_be_visible()
    body = page.inner_text("body")
    assert "Traceback" not in body and not re.search(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", body)


@pytest.mark.parametrize("operator_page", ["train", "tune", "security"])
def test_an_operator_page_opened_first_on_a_fresh_dashboard_is_refused(page, localcloud, tmp_path, operator_page):
    """The very first visit of a just-started dashboard, straight to an operator page's URL, before any session
    has drawn the navigation: still the refusal, never the page."""
    with users_dashboard(localcloud, tmp_path) as (url, _):
        page.goto(f"{url}/{operator_page}")
        expect(page.get_by_text("is for operators")).to_be_visible()
        expect(page.get_by_text("Viewing as a guest")).to_be_visible()
        assert "Launch" not in page.inner_text("section.main, [data-testid='stMain']")


def test_the_first_visitor_of_a_fresh_dashboard_signs_in_with_one_click(page, localcloud, tmp_path):
    """The first session of a just-started server once lost its first click (Streamlit ran a folder named
    `pages/` as its older multipage app until st.navigation had run once): name, password, one click."""
    with users_dashboard(localcloud, tmp_path) as (url, password):
        sign_in(page, url, password)


def test_tab_onto_the_password_eye_then_clicking_sign_in_signs_in(page, signed_dashboard):
    """Tab from the password moves focus to its "Show password" eye, not out of the field: the password must
    still be the one sent."""
    url, password = signed_dashboard
    page.goto(url)
    settled(page)
    page.get_by_role("textbox", name="User name").click()
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as admin (operator)")).to_be_visible()
    expect(page.get_by_text("Wrong name or password")).to_have_count(0)


def test_a_reload_a_typed_url_and_a_new_tab_keep_the_operator_signed_in_until_signing_out(page, signed_dashboard):
    url, password = signed_dashboard
    page.goto(url)
    settled(page)
    page.get_by_role("textbox", name="User name").fill("admin")
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("textbox", name="Password").press("Enter")
    expect(page.get_by_text("Signed in as admin (operator)")).to_be_visible()
    page.wait_for_function("document.cookie.includes('dashboard_session=')")
    cookie = next(c for c in page.context.cookies() if c["name"] == "dashboard_session")
    assert password not in cookie["value"] and cookie["sameSite"] == "Strict"
    assert time.time() + 11 * 3600 < cookie["expires"] < time.time() + 13 * 3600  # it expires, in a working day

    page.reload()
    expect(page.get_by_text("Signed in as admin (operator)")).to_be_visible()
    page.goto(f"{url}/security")  # typed
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    expect(page.get_by_text("is for operators")).to_have_count(0)
    other = page.context.new_page()
    other.goto(url)
    expect(other.get_by_text("Signed in as admin (operator)")).to_be_visible()
    other.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Viewing as a guest")).to_be_visible()
    page.wait_for_function("!document.cookie.includes('dashboard_session=')")
    page.context.add_cookies([cookie])  # a copy kept from before signing out
    page.reload()
    expect(page.get_by_text("Viewing as a guest")).to_be_visible()
    expect(page.get_by_text("Signed in as admin")).to_have_count(0)
