import json
import logging
from pathlib import Path

import pytest

from warmray.stages.corpus import sources
from warmray.stages.corpus.sources import BadRecord, iter_json_array, iter_jsonl, iter_records, resolve_source

SAMPLE = "sharegpt/ShareGPT_V3_unfiltered_cleaned_split.first3000.json"


def write(tmp_path: Path, text: str, name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("chunk_chars", [3, 7, 1 << 20])
def test_json_array_yields_every_record_whatever_the_chunk_size(tmp_path, chunk_chars):
    records = [{"id": "a", "v": "é ✓"}, {"id": "b", "n": [1, 2.5, None]}, 12345, "text"]
    path = write(tmp_path, "\n[\n  " + ",\n  ".join(json.dumps(r) for r in records) + "\n]\n")
    assert list(iter_json_array(path, chunk_chars=chunk_chars)) == records


def test_empty_array_yields_nothing(tmp_path):
    assert list(iter_json_array(write(tmp_path, " [ ] "))) == []


def test_number_split_across_chunks_is_read_whole(tmp_path):
    assert list(iter_json_array(write(tmp_path, "[1,23456789]"), chunk_chars=4)) == [1, 23456789]


def test_file_that_is_not_an_array_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="not a JSON array"):
        list(iter_json_array(write(tmp_path, '{"id": "a"}')))


@pytest.mark.parametrize("chunk_chars", [5, 1 << 20])
def test_record_cut_midway_is_skipped_with_its_byte_count(tmp_path, caplog, chunk_chars):
    tail = '{"id": "c", "conversations": [{"from": "hum'
    path = write(tmp_path, '[{"id": "a"}, {"id": "b"}, ' + tail)
    with caplog.at_level(logging.WARNING):
        got = list(iter_json_array(path, chunk_chars=chunk_chars))
    assert got == [{"id": "a"}, {"id": "b"}]
    assert f"ignored the last {len(tail.encode())} bytes" in caplog.text
    assert "after 2 complete records" in caplog.text


def test_array_without_closing_bracket_keeps_all_records_and_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        got = list(iter_json_array(write(tmp_path, '[{"id": "a"}, {"id": "b"}')))
    assert got == [{"id": "a"}, {"id": "b"}]
    assert "ignored the last 0 bytes" in caplog.text


def test_truncated_copy_of_the_sharegpt_sample_yields_every_complete_record(shared_data, tmp_path, caplog):
    data = (shared_data / SAMPLE).read_bytes()
    full = json.loads(data)
    # Cut 100 bytes into record 1500: records 0..1499 are complete, the rest is lost.
    id_at = data.index(
        json.dumps(full[1500]["id"]).encode(), data.index(json.dumps(full[1499]["id"]).encode())
    )
    start = data.rindex(b"{", 0, id_at)
    path = tmp_path / "cut.json"
    path.write_bytes(data[: start + 100])
    with caplog.at_level(logging.WARNING):
        got = list(iter_records(path))
    assert got == full[:1500]
    assert "after 1500 complete records" in caplog.text
    assert "ignored the last 100 bytes" in caplog.text


def test_jsonl_sets_a_bad_line_aside_and_reads_on(tmp_path, caplog):
    path = write(tmp_path, '{"id": "a"}\n\n{"id": \n{"id": "b"}\n', name="data.jsonl")
    with caplog.at_level(logging.WARNING):
        got = list(iter_jsonl(path))
    assert got[0] == {"id": "a"} and got[2] == {"id": "b"}
    assert isinstance(got[1], BadRecord) and (got[1].path, got[1].index) == (str(path), 3)
    assert "data.jsonl:3: not valid JSON" in caplog.text


@pytest.mark.parametrize("chunk_chars", [4, 9, 1 << 20])
def test_a_malformed_record_mid_array_is_set_aside_and_the_rest_are_read(tmp_path, caplog, chunk_chars):
    good = [
        {"id": f"r{i}", "conversations": [{"from": "human", "value": f"q{i}, [x] {{y}}"}]} for i in range(5)
    ]
    # record 2: a missing comma between fields and a quoted bracket, still closed: the array reads on
    bad = '{"id": "r_bad" "conversations": [{"from": "human", "value": "a ] } \\" [ quote"}]}'
    parts = [json.dumps(r) for r in good[:2]] + [bad] + [json.dumps(r) for r in good[2:]]
    path = write(tmp_path, "[\n" + ",\n".join(parts) + "\n]")
    with caplog.at_level(logging.WARNING):
        got = list(iter_json_array(path, chunk_chars=chunk_chars))
    assert [r for r in got if not isinstance(r, BadRecord)] == good
    assert isinstance(got[2], BadRecord) and got[2].index == 2 and got[2].path == str(path)
    assert "Expecting ',' delimiter" in got[2].reason
    assert f"{path}: record 2 is not valid JSON" in caplog.text and "cut off" not in caplog.text


def test_a_malformed_last_record_is_set_aside_too(tmp_path):
    got = list(iter_json_array(write(tmp_path, '[{"id": "a"}, {"id": tru}]')))
    assert got[0] == {"id": "a"} and isinstance(got[1], BadRecord) and len(got) == 2


def test_builtin_demo_resolves_to_the_packaged_file():
    path = resolve_source("builtin:demo", "unused.json")
    assert path.name == "demo_conversations.jsonl" and path.is_file()
    assert len(list(iter_records(path))) >= 36


def test_unknown_builtin_and_missing_local_file_are_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown built-in corpus"):
        resolve_source("builtin:nope", "x.json")
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_source(str(tmp_path / "missing.json"), "x.json")
    with pytest.raises(FileNotFoundError):
        resolve_source("not a dataset id", "x.json")


def test_existing_local_file_is_read_in_place(tmp_path):
    path = write(tmp_path, "[]")
    assert resolve_source(str(path), "x.json") == path


def test_dataset_id_downloads_the_configured_file(tmp_path, monkeypatch):
    calls = []

    def fake_download(repo_id: str, filename: str) -> Path:
        calls.append((repo_id, filename))
        return tmp_path / filename

    monkeypatch.setattr(sources, "_download", fake_download)
    got = resolve_source("anon8231489123/ShareGPT_Vicuna_unfiltered", "part.json")
    assert calls == [("anon8231489123/ShareGPT_Vicuna_unfiltered", "part.json")]
    assert got == tmp_path / "part.json"
