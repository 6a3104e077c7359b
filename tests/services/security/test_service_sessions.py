"""Sign-in tokens for the users-file mode's cookie: they hold no password or secret, name the user's role only
through the users file, and are refused when altered, expired, signed out, or when the user changed."""

from __future__ import annotations

import base64
import json
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.access import Caller
from services.core.errors import ServiceError
from services.security.sessions import LIFETIME_S, SECRET_FILE, SessionTokens
from services.security.users import UserStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, monkeypatch) -> UserStore:
    monkeypatch.delenv("DASHBOARD_SESSION_SECRET", raising=False)
    return UserStore(tmp_path / "users.json")


@pytest.fixture
def tokens(store, clock) -> SessionTokens:
    return SessionTokens(store, clock=clock)


def test_a_token_signs_its_user_in_again_with_the_role_the_file_gives(store, tokens, tmp_path) -> None:
    password = store.add("ana", "operator")
    token = tokens.issue(Caller("ana", "operator"))
    assert tokens.verify(token) == Caller("ana", "operator")
    assert password not in token and "argon2" not in token
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert set(payload) == {"sub", "iat", "exp"}  # no role: a demoted user is a viewer at the next reload
    secret = (tmp_path / SECRET_FILE).read_bytes()
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert secret not in base64.urlsafe_b64decode(token.split(".")[1] + "==")
    users = json.loads(store.path.read_text())
    users["users"]["ana"]["role"] = "viewer"
    store.path.write_text(json.dumps(users))
    assert tokens.verify(token) == Caller("ana", "viewer")


def test_a_token_expires(store, tokens, clock) -> None:
    store.add("ana", "operator")
    token = tokens.issue(Caller("ana", "operator"))
    clock.now += LIFETIME_S - 1
    assert tokens.verify(token) is not None
    clock.now += 1
    assert tokens.verify(token) is None


def test_signing_out_ends_every_token_issued_before_but_not_the_next_one(store, tokens, clock) -> None:
    store.add("ana", "operator")
    first, second = tokens.issue(Caller("ana", "operator")), tokens.issue(Caller("ana", "operator"))
    clock.now += 5
    tokens.end("ana")
    assert tokens.verify(first) is None and tokens.verify(second) is None
    clock.now += 0.001
    assert tokens.verify(tokens.issue(Caller("ana", "operator"))) == Caller("ana", "operator")


def test_a_user_removed_or_given_a_new_password_is_not_signed_in(store, tokens) -> None:
    store.add("ana", "operator")
    store.add("bob", "operator")
    ana, bob = tokens.issue(Caller("ana", "operator")), tokens.issue(Caller("bob", "operator"))
    users = json.loads(store.path.read_text())
    users["users"]["ana"]["hash"] = users["users"]["bob"]["hash"]  # what a new password does to the file
    del users["users"]["bob"]
    store.path.write_text(json.dumps(users))
    assert tokens.verify(ana) is None and tokens.verify(bob) is None


def test_another_secret_refuses_the_token(store, tokens, tmp_path) -> None:
    store.add("ana", "operator")
    token = tokens.issue(Caller("ana", "operator"))
    (tmp_path / SECRET_FILE).write_bytes(b"k" * 32)
    assert tokens.verify(token) is None


def test_no_key_yet_means_no_token_is_honoured_and_a_short_configured_secret_is_refused(
    store, tokens, tmp_path, monkeypatch
) -> None:
    store.add("ana", "operator")
    assert tokens.verify("e30.c2ln") is None and not (tmp_path / SECRET_FILE).exists()
    monkeypatch.setenv("DASHBOARD_SESSION_SECRET", "short")
    with pytest.raises(ServiceError, match="at least 32 characters"):
        tokens.issue(Caller("ana", "operator"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQZaqz09-_.="))
def test_any_altered_character_is_refused(store, tokens, position, replacement) -> None:
    if store.user("ana") is None:
        store.add("ana", "operator")
    token = tokens.issue(Caller("ana", "operator"))
    index = position % len(token)
    altered = token[:index] + replacement + token[index + 1 :]
    if altered != token:
        assert tokens.verify(altered) is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_made_up_token_is_refused_without_an_error(store, tokens, text) -> None:
    if store.user("ana") is None:
        store.add("ana", "operator")
        tokens.issue(Caller("ana", "operator"))  # the key exists
    assert tokens.verify(text) is None
