import pandas as pd
import pytest

from warmray.resumable import collect, remaining


def test_remaining_skips_written_rows_and_drops_a_half_written_file(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "v": range(4)})
    frame.iloc[:2].to_parquet(tmp_path / "p1.parquet")
    (tmp_path / "p2.parquet").write_bytes(b"PAR1 cut off")  # a kill mid-write
    todo = remaining(frame, "id", tmp_path)
    assert list(todo["id"]) == ["c", "d"]
    assert not (tmp_path / "p2.parquet").exists()


def test_collect_removes_duplicates_and_keeps_input_order(tmp_path):
    pd.DataFrame({"id": ["b", "a"], "v": [1, 0]}).to_parquet(tmp_path / "p1.parquet")
    pd.DataFrame({"id": ["a"], "v": [9]}).to_parquet(tmp_path / "p2.parquet")  # a redone row
    out = collect(tmp_path, "id", pd.Series(["a", "b"]))
    assert list(out["id"]) == ["a", "b"]
    assert len(out) == 2


def test_collect_refuses_a_gap(tmp_path):
    pd.DataFrame({"id": ["a"]}).to_parquet(tmp_path / "p1.parquet")
    with pytest.raises(RuntimeError, match="1 rows have no output"):
        collect(tmp_path, "id", pd.Series(["a", "b"]))
