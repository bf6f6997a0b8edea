"""The landing-folder sensor starts one run per complete new delivery."""

from __future__ import annotations

import os

from pipelines.sensors import evaluate


def _deliver(folder, name, content):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_empty_folder_starts_nothing(tmp_path):
    run_key, _ = evaluate(tmp_path, None)
    assert run_key is None


def test_a_delivery_runs_once_when_it_has_stopped_changing(tmp_path):
    _deliver(tmp_path, "bag/extract.zip", b"part")
    run_key, cursor = evaluate(tmp_path, None)
    assert run_key is None  # first sight: may still be copying

    run_key, cursor = evaluate(tmp_path, cursor)
    assert run_key is not None  # unchanged since last look: complete

    again, cursor = evaluate(tmp_path, cursor)
    assert again is None  # the same delivery never runs twice


def test_a_file_still_growing_is_not_picked_up(tmp_path):
    path = _deliver(tmp_path, "kvk/vestigingen.csv", b"a")
    _, cursor = evaluate(tmp_path, None)
    path.write_bytes(b"ab")
    run_key, cursor = evaluate(tmp_path, cursor)
    assert run_key is None


def test_a_changed_delivery_runs_again(tmp_path):
    path = _deliver(tmp_path, "brp/personen.csv", b"one")
    _, cursor = evaluate(tmp_path, None)
    first, cursor = evaluate(tmp_path, cursor)
    path.write_bytes(b"two")
    os.utime(path, ns=(1, 1))
    _, cursor = evaluate(tmp_path, cursor)
    second, cursor = evaluate(tmp_path, cursor)
    assert first and second and first != second


def test_files_outside_source_folders_are_ignored(tmp_path):
    _deliver(tmp_path, "notes.txt", b"x")
    _deliver(tmp_path, "bag/.partial", b"x")
    _, cursor = evaluate(tmp_path, None)
    run_key, _ = evaluate(tmp_path, cursor)
    assert run_key is None
