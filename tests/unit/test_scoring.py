"""The scoring core without a host: readers per format, ONNX graphs fed by input name or as one matrix,
files handed over while they download, a mini-batch's outputs (CSV rows in blocks cut while it scores,
Parquet only when asked or when the rows cannot be CSV blocks), and the scoring processes: lent to
mini-batches running at once, reporting blocks before their answer, leaving with their caller."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.arriving_files import arrived, partial_path, unavailable, wait_for
from scoring.errors import ScoringUserError
from scoring.isolation import ScoringPool, ScoringProcess
from scoring.contracts import ScorerSpec, ScoringItem, ScoringRequest
from scoring.mini_batch import score_mini_batch
from scoring import readers
from scoring.readers import read_batches, read_table
from scoring.scorers import CustomScriptScorer, OnnxScorer, predictions_frame
from tests.model_builders import FEATURES, onnx_model_bytes, onnx_two_input_bytes, sklearn_classifier, training_data


class DoublingScorer:
    """Predicts twice column x of each file."""

    def score_file(self, path: Path, name: str) -> pd.DataFrame:
        frame = read_table(path, name)
        return predictions_frame(frame["x"].to_numpy() * 2, len(frame), name)


def write_csv(path: Path, values) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"x": values}).to_csv(path, index=False)
    return path


def test_csv_takes_the_signature_types_and_tsv_its_tabs(tmp_path):
    csv = write_csv(tmp_path / "a.csv", [1.5, 2.5])
    assert read_table(csv, "a.csv", {"x": "float32"})["x"].dtype == np.float32
    tsv = tmp_path / "b.tsv"
    tsv.write_text("x\ty\n1\tz\n")
    assert read_table(tsv, "b.tsv").to_dict("records") == [{"x": 1, "y": "z"}]


def test_a_value_that_is_not_of_the_column_type_names_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1.0\nnot-a-number\n")
    with pytest.raises(ScoringUserError, match="'bad.csv' cannot be read as csv"):
        read_table(bad, "bad.csv", {"x": "float64"})


def test_a_whole_csv_in_the_signature_types_reads_any_spelling_of_missing_and_guesses_untyped_columns_as_before(
        tmp_path):
    spelled = tmp_path / "spelled.csv"
    spelled.write_text("x,y\n1.5,2\nNA,\nnull,4\n")
    frame = read_table(spelled, "spelled.csv", {"x": "float64", "y": "float64"})
    assert frame["x"].isna().tolist() == [False, True, True] and frame["y"].tolist()[::2] == [2.0, 4.0]
    guessed = read_table(spelled, "spelled.csv", {"y": "float64"})  # x's type is guessed, "NA" and "null" missing
    assert guessed["x"].dtype == np.float64 and guessed["x"].isna().tolist() == [False, True, True]
    with pytest.raises(ScoringUserError, match="'spelled.csv' cannot be read as csv"):
        read_table(spelled, "spelled.csv", {"x": "float64", "y": "bool"})


def test_an_unsupported_file_type_is_refused_by_name(tmp_path):
    with pytest.raises(ScoringUserError, match="'.png' of 'photo.png' is not supported"):
        read_table(tmp_path / "photo.png", "photo.png")


def test_the_scoring_waits_for_a_file_still_downloading(tmp_path):
    target = tmp_path / "late.csv"

    def download_later():
        time.sleep(0.2)
        write_csv(partial_path(target), [1.0])
        arrived(target)

    threading.Thread(target=download_later).start()
    wait_for(target)
    assert target.exists() and not partial_path(target).exists()


def test_a_file_that_cannot_be_downloaded_stops_the_wait_with_the_reason(tmp_path):
    target = tmp_path / "gone" / "missing.csv"
    unavailable(target, "The input azureml://datastores/d/paths/missing.csv does not exist.")
    with pytest.raises(ScoringUserError, match="missing.csv does not exist"):
        wait_for(target)


BLOCK_BYTES = 4 * 1024 * 1024


def handed_over(blocks: list) -> list[str]:
    return [line for _, path in blocks for line in path.read_text().splitlines()]


def test_a_mini_batch_writes_csv_rows_and_keeps_parquet_only_when_asked(tmp_path):
    items = [ScoringItem(str(write_csv(tmp_path / "in" / f"{n}.csv", [n, n + 0.5])), f"folder/{n}.csv")
             for n in (1, 2)]
    for keep in (False, True):
        part = tmp_path / f"keep-{keep}" / "part.parquet"
        part.parent.mkdir()
        blocks = []
        outcome = score_mini_batch(DoublingScorer(), items, part, keep_parquet=keep,
                                   on_block=lambda number, path: blocks.append((number, path)), max_blocks=1,
                                   block_bytes=BLOCK_BYTES)
        assert outcome.rows == 4 and outcome.rows_per_item == [2, 2]
        assert outcome.columns == ["file_name", "row", "prediction"] and outcome.blocks == 1
        assert handed_over(blocks) == [
            '"folder/1.csv",0,2', '"folder/1.csv",1,3', '"folder/2.csv",0,4', '"folder/2.csv",1,5']
        assert part.exists() is keep
    assert pq.read_table(part).num_rows == 4


def test_rows_are_cut_into_blocks_while_the_files_score_and_never_into_more_than_the_share(tmp_path):
    items = [ScoringItem(str(write_csv(tmp_path / "in" / f"{n}.csv", [n] * 50)), f"{n}.csv") for n in range(6)]
    for share, expected in ((10, 6), (3, 3), (1, 1)):
        part = tmp_path / f"share-{share}" / "part.parquet"
        part.parent.mkdir()
        blocks = []

        def ready(number: int, path: Path) -> None:
            assert path.exists() and not path.with_suffix(".writing").exists()  # complete when handed over
            blocks.append((number, path))

        outcome = score_mini_batch(DoublingScorer(), items, part, keep_parquet=False, on_block=ready,
                                   max_blocks=share, block_bytes=100)  # a file's 50 rows pass 100 bytes
        assert outcome.blocks == expected and [number for number, _ in blocks] == list(range(expected))
        assert len(handed_over(blocks)) == 300 and handed_over(blocks)[0] == '"0.csv",0,0'
        assert handed_over(blocks)[-1] == '"5.csv",49,10' and not part.exists()


class RenamingScorer(DoublingScorer):
    """A model whose output column is named after the file: the mini-batch's columns differ."""

    def score_file(self, path: Path, name: str) -> pd.DataFrame:
        return super().score_file(path, name).rename(columns={"prediction": name})


def test_rows_whose_columns_differ_between_files_become_parquet_and_no_block_counts(tmp_path):
    items = [ScoringItem(str(write_csv(tmp_path / "in" / f"{n}.csv", [n])), f"{n}.csv") for n in (1, 2)]
    part = tmp_path / "part.parquet"
    outcome = score_mini_batch(RenamingScorer(), items, part, keep_parquet=False, on_block=None, max_blocks=1,
                               block_bytes=1)
    assert outcome.blocks == 0 and outcome.columns is None
    assert pq.read_table(part).column_names == ["file_name", "row", "1.csv", "2.csv"]


def test_an_unavailable_file_fails_alone_and_the_others_are_scored(tmp_path):
    good = ScoringItem(str(write_csv(tmp_path / "good.csv", [1.0])), "good.csv")
    missing = ScoringItem(str(tmp_path / "missing.csv"), "missing.csv")
    unavailable(Path(missing.path), "'missing.csv' could not be downloaded: timeout")
    outcome = score_mini_batch(DoublingScorer(), [missing, good], tmp_path / "part.parquet", keep_parquet=False,
                               on_block=None, max_blocks=1, block_bytes=BLOCK_BYTES)
    assert outcome.succeeded == ["good.csv"] and outcome.rows_per_item == [0, 1]
    assert [(f.name, f.error) for f in outcome.failed] == [("missing.csv", "'missing.csv' could not be downloaded: "
                                                                           "timeout")]


def test_a_scoring_script_runs_on_the_files_that_arrived(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "score.py").write_text(
        "import os\n"
        "def init():\n    pass\n"
        "def run(mini_batch):\n    return [os.path.basename(p) for p in mini_batch]\n")
    scorer = CustomScriptScorer(ScorerSpec(kind="custom", model_dir=str(tmp_path), code_dir=str(code),
                                           scoring_script="score.py"))
    first = ScoringItem(str(write_csv(tmp_path / "a.csv", [1.0])), "a.csv")
    lost = ScoringItem(str(tmp_path / "b.csv"), "b.csv")
    third = ScoringItem(str(write_csv(tmp_path / "c.csv", [1.0])), "c.csv")
    unavailable(Path(lost.path), "gone")
    outcome = score_mini_batch(scorer, [first, lost, third], tmp_path / "part.parquet", keep_parquet=True,
                               on_block=None, max_blocks=1, block_bytes=BLOCK_BYTES)
    assert outcome.succeeded == ["a.csv", "c.csv"] and [f.name for f in outcome.failed] == ["b.csv"]
    assert outcome.rows_per_item == [2, 0, 0]
    assert pq.read_table(tmp_path / "part.parquet").column("prediction").to_pylist() == ["a.csv", "c.csv"]


def test_mini_batches_at_once_borrow_scoring_processes_of_their_own_and_reuse_a_loaded_model():
    pool = ScoringPool()
    with pool.borrowed("model-a") as first, pool.borrowed("model-a") as second:
        assert first is not second
        first.key, second.key = "model-a", "model-b"
    with pool.borrowed("model-b") as again:
        assert again is second  # the one holding model-b, though model-a's came back first
    with pool.borrowed("model-c") as other, pool.borrowed("model-c") as another:
        assert {id(other), id(another)} == {id(first), id(second)}  # idle ones are reused before new ones
    assert pool.size == 2


def test_a_json_lines_file_whose_column_mixes_types_fails_alone_by_name(tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"x": 1}\n{"x": "one"}\n')
    with pytest.raises(ScoringUserError, match="'mixed.jsonl' cannot be read as jsonl"):
        list(read_batches(mixed, "mixed.jsonl", as_float32))
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"x": 1.5}\n{"x": 2.5}\n')
    assert [t.column("x").to_pylist() for t in read_batches(plain, "plain.jsonl", as_float32)] == [[1.5, 2.5]]


def as_float32(names: list[str]) -> dict:
    return {name: pa.float32() for name in names}


def test_a_big_csv_is_read_a_piece_at_a_time_in_the_types_asked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "DEFAULT_READ_BLOCK_BYTES", 4096)
    big = tmp_path / "big.csv"
    big.write_text("a,b\n" + "".join(f"{row},{row}.5\n" for row in range(5000)))
    tables = list(read_batches(big, "big.csv", as_float32))
    assert len(tables) > 5 and max(t.num_rows for t in tables) < 1000  # bounded by the block, not the file
    assert {t.schema.field("a").type for t in tables} == {pa.float32()}
    assert [x for t in tables for x in t.column("b").to_pylist()] == [row + 0.5 for row in range(5000)]
    only = list(read_batches(big, "big.csv", lambda names: {"b": pa.float64()}))
    assert only[0].column_names == ["b"]  # a column the model does not take is not read
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    assert [(t.num_rows, t.schema.field("b").type) for t in read_batches(header_only, "header.csv", as_float32)] \
        == [(0, pa.float32())]  # no rows: one empty table of the columns, not nothing
    words = tmp_path / "words.csv"
    words.write_text("a\n1\nfour\n")
    with pytest.raises(ScoringUserError, match="'words.csv' holds a value not of the type its column takes"):
        list(read_batches(words, "words.csv", as_float32))


def test_a_missing_value_spelled_na_or_null_late_in_a_big_csv_reads_as_missing_and_no_row_comes_twice(tmp_path,
                                                                                                   monkeypatch):
    monkeypatch.setattr(readers, "DEFAULT_READ_BLOCK_BYTES", 4096)
    spelled = tmp_path / "spelled.csv"
    values = [str(row) for row in range(3000)]
    values[2500], values[2990] = "NA", "null"  # pieces after the first: the file is read again from there
    spelled.write_text("a,b\n" + "".join(f"{value},{row}\n" for row, value in enumerate(values)))
    tables = list(read_batches(spelled, "spelled.csv", as_float32))
    assert [x for t in tables for x in t.column("b").to_pylist()] == list(range(3000))
    read = [x for t in tables for x in t.column("a").to_pylist()]
    assert read[2500] is None and read[2990] is None and read[2499] == 2499 and read[2999] == 2999
    nan = tmp_path / "nan.csv"
    nan.write_text("a\n1\nnan\n\n2\n")
    assert [v if v == v else "nan" for t in read_batches(nan, "nan.csv", as_float32)
            for v in t.column("a").to_pylist()] == [1, "nan", 2]  # an empty line is no row, as before


def onnx_scorer(tmp_path: Path, model: bytes) -> OnnxScorer:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(model)
    return OnnxScorer(ScorerSpec(kind="onnx", model_dir=str(folder)))


def test_an_onnx_graph_of_several_inputs_takes_the_columns_of_their_names_and_types(tmp_path):
    scorer = onnx_scorer(tmp_path, onnx_two_input_bytes())
    data = tmp_path / "in.csv"
    data.write_text("b,other,a\n1,x,0.5\n2,y,1.25\n")
    predicted = scorer.score_file(data, "in.csv")
    assert predicted.column_names == ["prediction"] and predicted.column("prediction").to_pylist() == [1.5, 3.25]
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("a\n1.0\n")
    with pytest.raises(ScoringUserError, match="'lacking.csv' lacks the columns the ONNX graph needs: b"):
        scorer.score_file(lacking, "lacking.csv")


def test_an_onnx_graph_of_one_input_takes_every_column_as_a_matrix_of_its_width(tmp_path):
    scorer = onnx_scorer(tmp_path, onnx_model_bytes())
    frame, _ = training_data(rows=5)
    data = tmp_path / "in.csv"
    frame.to_csv(data, index=False)
    predicted = scorer.score_file(data, "in.csv")
    assert predicted.column_names == ["prediction", "probabilities_0", "probabilities_1"]
    assert predicted.column("prediction").to_pylist() == sklearn_classifier().predict(frame).tolist()
    narrow = tmp_path / "narrow.csv"
    frame[FEATURES[:2]].to_csv(narrow, index=False)
    with pytest.raises(ScoringUserError, match="'narrow.csv' has 2 columns; the ONNX input 'X' takes 4"):
        scorer.score_file(narrow, "narrow.csv")
    header_only = tmp_path / "header.csv"
    header_only.write_text("f0,f1,f2,f3\n")
    assert scorer.score_file(header_only, "header.csv").num_rows == 0  # no rows, no failure
    words = tmp_path / "words.csv"
    words.write_text("f0,f1,f2,f3\n1,2,3,four\n")
    with pytest.raises(ScoringUserError, match="The ONNX model could not score 'words.csv'"):
        scorer.score_file(words, "words.csv")


def test_the_scoring_process_reports_blocks_before_its_answer_and_lines_arriving_together_are_all_read(tmp_path):
    """Through a real scoring process: a mini-batch whose rows make three blocks; the progress lines and the
    answer come over the pipe close together, and none of them waits for the timeout."""
    items = []
    for number in range(3):  # the two-input graph predicts a + b
        path = tmp_path / "in" / f"{number}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_text("a,b\n" + "".join(f"{row}.5,{number}\n" for row in range(40)))
        items.append(ScoringItem(str(path), path.name))
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(onnx_two_input_bytes())
    request = ScoringRequest(key="k", scorer=ScorerSpec(kind="onnx", model_dir=str(model)), items=items,
                             part_path=str(tmp_path / "out" / "part.parquet"), keep_parquet=False, max_blocks=10,
                             block_bytes=100, summary_dir=str(tmp_path / "summary"), logging_level="info")
    (tmp_path / "out").mkdir()
    process, blocks = ScoringProcess(), []
    try:
        answer = process.score(request, 60, 1, blocks.append)
        assert answer.ok and answer.outcome.blocks == 3  # a line left waiting would end in the timeout
        assert [b.number for b in blocks] == [0, 1, 2]
        assert Path(blocks[2].path).read_text().splitlines()[-1] == '"2.csv",39,41.5'
    finally:
        process.stop()


CALLER = """
import sys
import threading
import time
from scoring.contracts import ScorerSpec, ScoringItem, ScoringRequest
from scoring.isolation import ScoringProcess
folder = sys.argv[1]
spec = ScorerSpec(kind="custom", model_dir=folder, code_dir=folder, scoring_script="score.py")
request = ScoringRequest(key="k", scorer=spec, items=[ScoringItem(folder + "/in.csv", "in.csv")], part_path=None,
                         keep_parquet=False, max_blocks=1, block_bytes=1024, summary_dir=folder, logging_level="info")
process = ScoringProcess()
threading.Thread(target=process.score, args=(request, 600, 1), daemon=True).start()
while process.process is None:
    time.sleep(0.01)
print(process.process.pid, flush=True)
time.sleep(600)
"""


def test_a_scoring_process_leaves_with_its_caller_even_inside_a_hanging_mini_batch(tmp_path):
    (tmp_path / "score.py").write_text("import time\nfrom pathlib import Path\ndef init():\n    pass\n"
                                       "def run(mini_batch):\n    Path(mini_batch[0] + '.running').touch()\n"
                                       "    time.sleep(600)\n")
    (tmp_path / "in.csv").write_text("x\n1\n")
    (tmp_path / "caller.py").write_text(CALLER)
    root = Path(__file__).resolve().parents[2]
    caller = subprocess.Popen([sys.executable, str(tmp_path / "caller.py"), str(tmp_path)], stdout=subprocess.PIPE,
                              text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    scoring_pid = int(caller.stdout.readline())
    deadline = time.monotonic() + 60
    while not (tmp_path / "in.csv.running").exists():  # run() has started and hangs
        assert time.monotonic() < deadline and caller.poll() is None, "run() never started"
        time.sleep(0.05)
    caller.kill()
    caller.wait()
    deadline = time.monotonic() + 20
    while _alive(scoring_pid):
        assert time.monotonic() < deadline, "the scoring process outlived its caller"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_skl2onnx_default_exports_score_a_zipmap_as_one_column_per_class_and_a_regressor_as_one(tmp_path):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression, LogisticRegression

    frame, labels = training_data(rows=60)
    matrix = frame.to_numpy(dtype=np.float32)
    named = np.where(labels == 1, "yes", "no")
    classifier = LogisticRegression(max_iter=500).fit(matrix, named)
    data = tmp_path / "in.csv"
    frame.head(7).to_csv(data, index=False)
    (tmp_path / "clf").mkdir()
    predicted = onnx_scorer(tmp_path / "clf", to_onnx(classifier, matrix[:1]).SerializeToString()).score_file(
        data, "in.csv")
    assert predicted.column_names == ["prediction", "output_probability_no", "output_probability_yes"]
    assert predicted.column("prediction").to_pylist() == classifier.predict(matrix[:7]).tolist()
    expected = classifier.predict_proba(matrix[:7])
    assert np.allclose(predicted.column("output_probability_yes").to_numpy(), expected[:, 1], atol=1e-5)
    regressor = LinearRegression().fit(matrix, labels.astype(float) * 3.0)
    (tmp_path / "reg").mkdir()
    scored = onnx_scorer(tmp_path / "reg", to_onnx(regressor, matrix[:1]).SerializeToString()).score_file(
        data, "in.csv")
    assert scored.column_names == ["prediction"]
    assert np.allclose(scored.column("prediction").to_numpy(), regressor.predict(matrix[:7]), atol=1e-4)


def test_onnx_outputs_of_every_rank_become_columns():
    from scoring.scorers import output_columns

    assert list(output_columns("prediction", np.array([1, 2]), 2)) == ["prediction"]
    assert list(output_columns("prediction", np.array([[1], [2]]), 2)) == ["prediction"]
    assert list(output_columns("p", np.zeros((2, 3)), 2)) == ["p_0", "p_1", "p_2"]
    cube = output_columns("emb", np.arange(8).reshape(2, 2, 2), 2)["emb"]
    assert cube.to_pylist() == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    assert output_columns("label", np.array(["a", "b"], dtype=object), 2)["label"].tolist() == ["a", "b"]
    zipmap = output_columns("prob", [{0: 0.25, 1: 0.75}, {0: 1.0, 1: 0.0}], 2)
    assert {k: v.tolist() for k, v in zipmap.items()} == {"prob_0": [0.25, 1.0], "prob_1": [0.75, 0.0]}
