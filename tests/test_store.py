import sqlite3

import pytest

from slmbench.client import Completion
from slmbench.errors import SlmbenchError
from slmbench.store import Store


def ok(text="Answer: 1"):
    return Completion(text, "stop", 3, 4, 0.25, 1)


def test_answers_are_cached_once_flushed_and_survive_reopening(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r1", {"x": 1})
    store.add_response("k1", "r1", "m", b"{}", ok())
    # Not committed yet: another connection sees nothing.
    other = sqlite3.connect(tmp_path / "s.sqlite")
    assert other.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0
    store.flush()
    assert other.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1
    store.close()
    again = Store(tmp_path / "s.sqlite")
    got = again.cached(["k1", "k2"])
    assert list(got) == ["k1"]
    assert got["k1"].text == "Answer: 1" and got["k1"].completion_tokens == 4 and got["k1"].ok
    assert again.run_status("r1") == "running"


def test_failures_are_kept_but_never_served_from_the_cache(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add_response("k", "r", "m", b"{}", Completion(None, None, None, None, 1.0, 4, "http_5xx", "HTTP 500"))
    store.flush()
    assert store.cached(["k"]) == {}
    assert store.db.execute("SELECT kind, attempts FROM failures").fetchall() == [("http_5xx", 4)]


def test_cache_lookup_handles_more_keys_than_one_sql_statement(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    for i in range(1200):
        store.add_response(f"k{i}", "r", "m", b"{}", ok(str(i)))
    store.flush()
    got = store.cached([f"k{i}" for i in range(0, 1300)])
    assert len(got) == 1200 and got["k1199"].text == "1199"


def test_wal_mode(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SlmbenchError, match="--out"):
        Store(blocker / "s.sqlite")
