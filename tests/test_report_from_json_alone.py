"""The report is a function of results.json alone (issue 25): a fact about a model's weights,
such as "Q4_1 weights dequantised", is recorded when the run loads them, so a report rebuilt
on another machine, where the model folders are not, says the same thing."""

from __future__ import annotations

import dataclasses
import json
import shutil
from types import SimpleNamespace

import pandas as pd
from report_fixtures import make_typed_results

from qa_models import gguf, report, runner
from qa_models.adapters import ParameterCounts, Predictions
from qa_models.config import ModelSpec, TrainSpec
from qa_models.report import build_report, write_run
from qa_models.results import read_results, to_json_dict


def _gguf_folder(path):
    """A converted GGUF model folder as ``gguf.converted_folder`` leaves it (only its record matters here)."""
    path.mkdir(parents=True)
    (path / gguf.METADATA_FILE).write_text(json.dumps({"quantisation": "Q4_1"}))
    return path


def _row_of(spec: ModelSpec):
    """``runner.model_result`` on a model that scored nothing: only what the run records about it."""
    adapter = SimpleNamespace(parameter_counts=lambda: ParameterCounts(total=10, trainable=10))
    trained = runner.TrainedModel(adapter, None, False, None)
    empty = pd.DataFrame(columns=["id", "question", "has_answer", "gold", "prediction", "exact", "f1"])
    evaluation = runner.Evaluation(threshold=0.5, validation={}, test={}, test_predictions=Predictions({}, {}),
                                   test_answers={}, per_question=empty, test_seconds=1.0)
    return runner.model_result(spec, trained, evaluation, TrainSpec(), [])


def test_the_run_records_the_weights_note_and_the_report_needs_no_model_folder(tmp_path):
    weights = _gguf_folder(tmp_path / "models" / "smollm2-gguf")
    gguf_row = _row_of(ModelSpec(name="smollm2-135m-span", model_id=str(weights), method="span", family="other"))
    assert gguf_row.weights_note == gguf.quantisation_note_text("Q4_1")
    assert _row_of(ModelSpec(name="bert-span", model_id=str(tmp_path / "models" / "bert"))).weights_note is None

    typed = make_typed_results(models=(("smollm2-135m-span", 0.6), ("bert-span", 0.7)))
    typed.models[0] = dataclasses.replace(typed.models[0], model_id=str(weights), weights_note=gguf_row.weights_note)
    written = write_run(tmp_path / "run", typed)
    files = {p.name: p.read_bytes() for p in written.run_dir.iterdir()}
    assert "smollm2-135m-span: Q4_1 weights dequantised" in files["report.md"].decode()

    shutil.rmtree(tmp_path / "models")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "results.json").write_bytes(files["results.json"])
    build_report(elsewhere)
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == files


def test_a_version_2_file_still_reads_and_reports(tmp_path):
    """Version 2 had no weights_note (its report read the model folder): it reads as 3 with none."""
    obj = to_json_dict(make_typed_results(models=(("bert-span", 0.7),)))
    obj["schema_version"] = 2
    for model in obj["models"]:
        del model["weights_note"]
    (tmp_path / "results.json").write_text(json.dumps(obj))
    back = read_results(tmp_path)
    assert back.schema_version == 3 and back.models[0].weights_note is None
    assert report.build_report(tmp_path).report_md.is_file()
