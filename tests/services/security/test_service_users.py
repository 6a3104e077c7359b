"""The local users file: Argon2 hashes only, the first operator's password printed once, wrong
passwords slowed down."""

import json
import stat

import pytest

from services.core.errors import ServiceError
from services.security import users
from services.security.users import MAX_FAILURES, UserStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock) -> UserStore:
    return UserStore(tmp_path / "users.json", clock)


def test_a_user_signs_in_with_the_password_given_once(store, tmp_path):
    password = store.add("ana", "operator")
    caller = store.sign_in("ana", password)
    assert (caller.name, caller.role) == ("ana", "operator")
    text = (tmp_path / "users.json").read_text()
    assert password not in text and "$argon2" in text
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600


def test_wrong_password_and_unknown_name_read_the_same(store):
    store.add("ana", "viewer")
    with pytest.raises(ServiceError) as wrong:
        store.sign_in("ana", "guess")
    with pytest.raises(ServiceError) as unknown:
        store.sign_in("bob", "guess")
    assert wrong.value.message == unknown.value.message == "Wrong name or password."


def test_five_wrong_passwords_lock_the_name_and_the_lock_grows(store, clock):
    password = store.add("ana", "operator")
    for _ in range(MAX_FAILURES):
        with pytest.raises(ServiceError, match="Wrong name"):
            store.sign_in("ana", "guess")
    # Locked: even the right password is not checked now.
    with pytest.raises(ServiceError) as locked:
        store.sign_in("ana", password)
    assert locked.value.code == "Locked" and "30 s" in locked.value.message
    clock.now += 31
    with pytest.raises(ServiceError, match="Wrong name"):
        store.sign_in("ana", "guess again")
    with pytest.raises(ServiceError, match="60 s"):
        store.sign_in("ana", password)
    clock.now += 61
    assert store.sign_in("ana", password).role == "operator"
    with pytest.raises(ServiceError, match="Wrong name"):  # the count starts again after a success
        store.sign_in("ana", "guess")
    assert store.sign_in("ana", password).name == "ana"


def test_bad_names_roles_and_taken_names_are_refused(store):
    store.add("ana", "viewer")
    with pytest.raises(ServiceError, match="already exists"):
        store.add("ana", "operator")
    with pytest.raises(ServiceError, match="not a user name"):
        store.add("a b", "viewer")
    with pytest.raises(ServiceError, match="not a role"):
        store.add("carl", "admin")


def test_init_prints_the_first_operators_password_once(tmp_path, monkeypatch, capsys):
    path = tmp_path / "dash" / "users.json"
    monkeypatch.setenv("DASHBOARD_USERS_FILE", str(path))
    assert users.main(["init"]) == 0
    printed = capsys.readouterr().out
    password = printed.rsplit(": ", 1)[1].strip()
    assert UserStore(path).sign_in("admin", password).role == "operator"
    assert users.main(["init"]) == 0
    again = capsys.readouterr()
    assert password not in again.out + again.err and "nothing to do" in again.err
    assert users.main(["add", "vic", "--role", "viewer"]) == 0
    assert set(json.loads(path.read_text())["users"]) == {"admin", "vic"}
