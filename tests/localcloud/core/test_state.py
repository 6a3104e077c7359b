"""The store's revisions and shared records: a record kept for the request path is the stored one until the
next write of its kind, whichever write that is."""

from __future__ import annotations

from pathlib import Path

from localcloud.core.state import Store


def test_a_shared_record_follows_every_write_of_its_kind(tmp_path: Path):
    store = Store(tmp_path)
    assert store.get_shared("endpoint", "e") is None
    store.insert("endpoint", "e", {"EndpointStatus": "Creating"})
    assert store.get_shared("endpoint", "e") == {"EndpointStatus": "Creating"}
    kept = store.get_shared("endpoint", "e")
    assert store.get_shared("endpoint", "e") is kept  # no query until a write
    store.put("model", "m", {})  # another kind leaves it be
    assert store.get_shared("endpoint", "e") is kept
    store.update("endpoint", "e", EndpointStatus="InService")
    assert store.get_shared("endpoint", "e") == {"EndpointStatus": "InService"}
    store.put("endpoint", "other", {"EndpointStatus": "Creating"})
    assert store.get_shared("endpoint", "e") == {"EndpointStatus": "InService"}
    store.delete("endpoint", "e")
    assert store.get_shared("endpoint", "e") is None


def test_revisions_count_writes_per_kind(tmp_path: Path):
    store = Store(tmp_path)
    store.insert("iam-role", "r", {})
    assert not store.insert("iam-role", "r", {})  # refused: no write
    store.put("iam-role", "r", {"a": 1})
    store.delete("iam-role", "r")
    assert (store.revision("iam-role"), store.revision("iam-policy")) == (3, 0)
