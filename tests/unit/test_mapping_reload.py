"""The mapping file is read again when it changes, without a restart; a changed file that cannot
be used keeps the mapping in force and says why (connector/runtime.py MappingFile)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from connector.runtime import MappingFile, load_runtime

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "connector.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_mapping_reload_unchanged_file_keeps_the_same_mapping(mapping_path):
    runtime = load_runtime()
    before = runtime.mapping
    assert runtime.refresh_mapping() is before and runtime.mapping_error is None
    os.utime(mapping_path)                                  # touched, not changed
    assert runtime.refresh_mapping() is before


@pytest.mark.parametrize("old, new, changed", [
    ('revenue = "4010"', 'revenue = "4020"', lambda m: m.accounts.revenue.account == "4020"),
    ('timezone = "America/Los_Angeles"', 'timezone = "Europe/Paris"', lambda m: str(m.store.timezone) == "Europe/Paris"),
    ('[posting]\n', '[posting]\nforeign_currency = "transaction"\n', lambda m: m.posting.foreign_currency == "transaction"),
])
def test_mapping_reload_changed_file_is_in_force_at_the_next_check(mapping_path, old, new, changed):
    runtime = load_runtime()
    assert not changed(runtime.mapping)
    _edit(mapping_path, old, new)       # same size for the account: the write's own tick, same inode
    assert changed(runtime.refresh_mapping()) and changed(runtime.mapping)
    assert runtime.mapping_error is None


def test_mapping_reload_file_replaced_by_rename_with_the_same_size_and_time(mapping_path, tmp_path):
    runtime = load_runtime()
    stat = mapping_path.stat()
    fresh = tmp_path / "connector.toml.new"
    fresh.write_text(mapping_path.read_text(encoding="utf-8").replace('revenue = "4010"', 'revenue = "4020"'),
                     encoding="utf-8")
    os.utime(fresh, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(fresh, mapping_path)                         # as a deployment swaps files
    assert runtime.refresh_mapping().accounts.revenue.account == "4020"


def test_mapping_reload_change_within_the_clock_tick_is_seen(mapping_path):
    """Written again in place, same size, and the file system's coarse clock gives it the same
    mtime: the stamp is the same, and the change is still seen (the bytes are compared)."""
    runtime = load_runtime()
    stat = mapping_path.stat()
    _edit(mapping_path, 'revenue = "4010"', 'revenue = "4020"')
    os.utime(mapping_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = mapping_path.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    assert runtime.refresh_mapping().accounts.revenue.account == "4020"


@pytest.mark.parametrize("old, new, words", [
    ("[store]", "[store", "connector.toml"),                                     # does not parse: names the line
    ('reference_column = "VINV"', 'refrence_column = "VINV"', "did you mean 'reference_column'"),
    ('currency = "USD"', 'currency = "usd"', "currency"),
    ('source = "https://shop.example.com/"', 'source = "https://other.example.com/"', "restart the processes"),
])
def test_mapping_reload_unusable_file_keeps_the_old_mapping_and_says_why(mapping_path, caplog, old, new, words):
    runtime = load_runtime()
    before = runtime.mapping
    _edit(mapping_path, old, new)
    assert runtime.refresh_mapping() is before
    assert words in runtime.mapping_error and "stays in force" in runtime.mapping_error
    assert [r.levelname for r in caplog.records if "cannot be used" in r.getMessage()] == ["ERROR"]
    runtime.refresh_mapping()                               # logged once per change, not at every check
    assert len([r for r in caplog.records if "cannot be used" in r.getMessage()]) == 1
    _edit(mapping_path, new, old)                           # put right again
    assert runtime.refresh_mapping() is not before and runtime.mapping == before
    assert runtime.mapping_error is None


def test_mapping_reload_removed_file_keeps_the_old_mapping(mapping_path):
    runtime = load_runtime()
    before = runtime.mapping
    mapping_path.unlink()
    assert runtime.refresh_mapping() is before and "cannot be read" in runtime.mapping_error
    mapping_path.write_text(FIXTURE.read_text(encoding="utf-8").replace('"4010"', '"4020"'), encoding="utf-8")
    assert runtime.refresh_mapping().accounts.revenue.account == "4020"
    assert runtime.mapping_error is None


def test_mapping_reload_from_many_threads_swaps_once(mapping_path):
    """The web process's threads check at once: each sees the new mapping, and it is the same one."""
    runtime = load_runtime()
    _edit(mapping_path, 'revenue = "4010"', 'revenue = "4020"')
    seen, start = [], threading.Barrier(8)

    def check():
        start.wait()
        seen.append(runtime.refresh_mapping())

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(m) for m in seen}) == 1 and seen[0].accounts.revenue.account == "4020"


def test_mapping_reload_start_up_still_refuses_a_bad_file(tmp_path):
    from connector.mapping import MappingError

    path = tmp_path / "connector.toml"
    path.write_text("[store\n", encoding="utf-8")
    with pytest.raises(MappingError):
        MappingFile(path).load()
    with pytest.raises(MappingError, match="mapping file not found"):
        MappingFile(tmp_path / "nope.toml").load()
