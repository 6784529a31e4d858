"""NER loaders on fixtures that mirror the real formats: CoNLL-2012 *gold_conll files (static
fixture under tests/fixtures/ner/conll2012), the Hugging Face conll2012_ontonotesv5 schema in
Parquet, and two-column files; plus the real MSRA corpus when MSRA_DIR is set."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from adamomentum.data.ner import (
    DEFAULT_ENTITY_TYPES,
    NERData,
    Sentence,
    build_vocab,
    load_ner,
)
from adamomentum.errors import ConfigError, DataError

FIXTURES = Path(__file__).parent / "fixtures" / "ner"
CONLL_FIXTURE = FIXTURES / "conll2012"

ONTONOTES_NAMES = [
    "O",
    "B-PERSON",
    "I-PERSON",
    "B-NORP",
    "I-NORP",
    "B-FAC",
    "I-FAC",
    "B-ORG",
    "I-ORG",
    "B-GPE",
    "I-GPE",
    "B-LOC",
    "I-LOC",
    "B-PRODUCT",
    "I-PRODUCT",
    "B-DATE",
    "I-DATE",
    "B-TIME",
    "I-TIME",
    "B-PERCENT",
    "I-PERCENT",
    "B-MONEY",
    "I-MONEY",
    "B-QUANTITY",
    "I-QUANTITY",
    "B-ORDINAL",
    "I-ORDINAL",
    "B-CARDINAL",
    "I-CARDINAL",
    "B-EVENT",
    "I-EVENT",
    "B-WORK_OF_ART",
    "I-WORK_OF_ART",
    "B-LAW",
    "I-LAW",
    "B-LANGUAGE",
    "I-LANGUAGE",
]

# What the conll2012 fixture holds, after normalisation to the four kept types. The Parquet
# fixture below is built from the same sentences, so both sources must give exactly this.
EXPECTED_TRAIN = [
    (["欢迎", "收看", "焦点", "访谈", "。"], ["O"] * 5),  # WORK_OF_ART dropped
    (
        ["江泽民", "主席", "访问", "了", "美国", "和", "加拿大", "。"],
        ["B-PERSON", "O", "O", "O", "B-GPE", "O", "B-GPE", "O"],
    ),
    (["新华社", "北京", "五月", "二十日", "电"], ["B-ORG", "B-GPE", "O", "O", "O"]),  # DATE dropped
    (
        ["中国", "人民", "银行", "行长", "戴相龙", "今天", "在", "北京", "会见", "了", "日本", "客人", "。"],
        ["B-ORG", "I-ORG", "I-ORG", "O", "B-PERSON", "O", "O", "B-GPE", "O", "O", "O", "O", "O"],
    ),  # DATE and NORP dropped
]
EXPECTED_VALID = [
    (["上海", "浦东", "开发", "与", "法制", "建设", "同步"], ["B-GPE", "I-GPE"] + ["O"] * 5),
    (
        ["国务院", "总理", "李鹏", "昨天", "在", "长江", "三峡", "视察", "。"],
        ["B-ORG", "O", "B-PERSON", "O", "O", "B-LOC", "I-LOC", "O", "O"],
    ),
]
EXPECTED_TEST = [
    (["香港", "特别", "行政区", "成立", "一", "周年"], ["B-GPE", "I-GPE", "I-GPE", "O", "O", "O"]),
    (["联合国", "秘书长", "安南", "抵达", "巴格达", "。"], ["B-ORG", "O", "B-PERSON", "O", "B-GPE", "O"]),
]
EXPECTED_TAGS = ["O", "B-GPE", "I-GPE", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PERSON", "I-PERSON"]


def pairs(sentences: list[Sentence]) -> list[tuple[list[str], list[str]]]:
    return [(s.tokens, s.tags) for s in sentences]


def write_columns(path: Path, sentences: list[list[tuple[str, str]]], sep: str = " ", newline: str = "\n") -> Path:
    blocks = [newline.join(f"{token}{sep}{tag}" for token, tag in sentence) for sentence in sentences]
    path.write_bytes((newline * 2).join(blocks).encode("utf-8") + newline.encode())
    return path


def sentence(tokens: str, tags: str) -> list[tuple[str, str]]:
    """``sentence("a b c", "B-PER I-PER O")``: a column-file sentence from two strings."""
    return list(zip(tokens.split(), tags.split(), strict=True))


def columns_corpus(folder: Path, train, test=None, dev=None, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_columns(folder / "train.txt", train, **kwargs)
    write_columns(folder / "test.txt", test or [sentence("北京 欢迎 你", "B-LOC O O")], **kwargs)
    if dev is not None:
        write_columns(folder / "dev.txt", dev, **kwargs)
    return folder


# --- conll2012 -----------------------------------------------------------------------------


def test_conll2012_fixture_types_filtered_and_lengths_checked() -> None:
    data = load_ner("conll2012", CONLL_FIXTURE)

    assert isinstance(data, NERData)
    assert pairs(data.train) == EXPECTED_TRAIN  # the 1-token sentence 谢谢 is dropped
    assert pairs(data.valid) == EXPECTED_VALID
    assert pairs(data.test) == EXPECTED_TEST
    assert data.tags == EXPECTED_TAGS
    assert data.stats["source"] == "conll2012"
    assert data.stats["dev_from_train"] is False
    assert data.stats["sizes"] == {"train": 4, "valid": 2, "test": 2}
    assert data.stats["read_sizes"] == {"train": 5, "valid": 2, "test": 2}
    assert data.stats["dropped_by_length"]["train"] == {"too_short": 1, "too_long": 0}
    assert data.stats["dropped_entities"] == {
        "train": {"DATE": 2, "NORP": 1, "WORK_OF_ART": 1},
        "valid": {"DATE": 1},
        "test": {"DATE": 1},
    }
    assert data.stats["repaired_i_tags"] == 0
    assert data.stats["entity_counts"]["train"] == {"GPE": 4, "ORG": 2, "PERSON": 2}


def conll_tree(root: Path, train_text: str) -> Path:
    """A conll2012 folder whose train file is ``train_text``; dev and test from the fixture."""
    shutil.copytree(CONLL_FIXTURE / "development", root / "development")
    shutil.copytree(CONLL_FIXTURE / "test", root / "test")
    path = root / "train" / "data" / "chinese" / "annotations" / "nw" / "xinhua" / "09" / "chtb_0901.v4_gold_conll"
    path.parent.mkdir(parents=True)
    path.write_text(train_text, encoding="utf-8")
    return path


def conll_doc(*cells: str, columns: int = 12) -> str:
    """One document, one sentence, a token per NE cell, with the real column layout."""
    doc = "nw/xinhua/09/chtb_0901"
    lines = [f"#begin document ({doc}); part 000"]
    for index, cell in enumerate(cells):
        row = [doc, "0", str(index), f"词{index}", "NN", "(NN*)", "-", "-", "-", "-", cell, "-", "-", "-"]
        lines.append("   ".join(row[: columns - 1] + ["-"]))
    return "\n".join(lines + ["", "#end document", ""])


@pytest.mark.parametrize(
    ("cells", "line", "words"),
    [
        (("(PERSON*", "*", "*"), 2, "never closed"),
        (("(PERSON*", "(ORG)", "*)"), 3, "still open"),
        (("*", "*)", "*"), 3, "none is open"),
        (("*", "PERSON", "*"), 3, "NE cell 'PERSON' is not"),
    ],
)
def test_conll2012_malformed_brackets_name_file_and_line(tmp_path: Path, cells, line, words) -> None:
    path = conll_tree(tmp_path, conll_doc(*cells))
    with pytest.raises(DataError, match=words) as caught:
        load_ner("conll2012", tmp_path)
    assert f"{path}:{line}:" in str(caught.value)


def test_conll2012_too_few_columns(tmp_path: Path) -> None:
    path = conll_tree(tmp_path, conll_doc("(PERSON)", "*", columns=11))
    with pytest.raises(DataError, match="11 columns") as caught:
        load_ner("conll2012", tmp_path)
    assert f"{path}:2:" in str(caught.value)


def test_conll2012_missing_split_folder(tmp_path: Path) -> None:
    shutil.copytree(CONLL_FIXTURE / "train", tmp_path / "train")
    with pytest.raises(DataError, match="development"):
        load_ner("conll2012", tmp_path)


def test_conll2012_refuses_mixed_languages(tmp_path: Path) -> None:
    shutil.copytree(CONLL_FIXTURE, tmp_path, dirs_exist_ok=True)
    english = tmp_path / "train" / "data" / "english" / "annotations" / "nw" / "wsj" / "00" / "wsj_0001.v4_gold_conll"
    english.parent.mkdir(parents=True)
    english.write_text(conll_doc("(PERSON)", "*"), encoding="utf-8")
    with pytest.raises(DataError, match="chinese, english"):
        load_ner("conll2012", tmp_path)


# --- hub (Parquet with the conll2012_ontonotesv5 schema) ----------------------------------


@pytest.fixture
def offline_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`datasets` with its cache in tmp_path and no hub traffic (load_dataset otherwise pings
    the hub to count downloads, even for local Parquet files)."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    return datasets


def ontonotes_features(names: list[str]):
    """The conll2012_ontonotesv5 features, as the hub declares them."""
    from datasets import ClassLabel, Features, List, Value

    pos_names = ["AD", "AS", "CC", "CD", "JJ", "M", "NN", "NR", "NT", "P", "PU", "VV"]  # a subset
    return Features(
        {
            "document_id": Value("string"),
            "sentences": [
                {
                    "part_id": Value("int32"),
                    "words": List(Value("string")),
                    "pos_tags": List(ClassLabel(names=pos_names)),
                    "parse_tree": Value("string"),
                    "predicate_lemmas": List(Value("string")),
                    "predicate_framenet_ids": List(Value("string")),
                    "word_senses": List(Value("float32")),
                    "speaker": Value("string"),
                    "named_entities": List(ClassLabel(names=names)),
                    "srl_frames": [{"verb": Value("string"), "frames": List(Value("string"))}],
                    "coref_spans": List(List(Value("int32"))),
                }
            ],
        }
    )


# The raw OntoNotes tags of the conll2012 fixture, documents as the hub groups them.
RAW_TRAIN_DOCS = {
    "bc/cctv/00/cctv_0001": [
        ("欢迎 收看 焦点 访谈 。", "O O B-WORK_OF_ART I-WORK_OF_ART O"),
        ("江泽民 主席 访问 了 美国 和 加拿大 。", "B-PERSON O O O B-GPE O B-GPE O"),
        ("谢谢", "O"),
    ],
    "nw/xinhua/00/chtb_0001": [
        ("新华社 北京 五月 二十日 电", "B-ORG B-GPE B-DATE I-DATE O"),
        (
            "中国 人民 银行 行长 戴相龙 今天 在 北京 会见 了 日本 客人 。",
            "B-ORG I-ORG I-ORG O B-PERSON B-DATE O B-GPE O O B-NORP O O",
        ),
    ],
}
RAW_VALID_DOCS = {
    "nw/xinhua/01/chtb_0101": [
        ("上海 浦东 开发 与 法制 建设 同步", "B-GPE I-GPE O O O O O"),
        ("国务院 总理 李鹏 昨天 在 长江 三峡 视察 。", "B-ORG O B-PERSON B-DATE O B-LOC I-LOC O O"),
    ]
}
RAW_TEST_DOCS = {
    "nw/xinhua/02/chtb_0201": [
        ("香港 特别 行政区 成立 一 周年", "B-GPE I-GPE I-GPE O B-DATE I-DATE"),
        ("联合国 秘书长 安南 抵达 巴格达 。", "B-ORG O B-PERSON O B-GPE O"),
    ]
}


def hub_rows(documents: dict[str, list[tuple[str, str]]], names: list[str]) -> list[dict]:
    rows = []
    for document_id, sentences in documents.items():
        records = []
        for words, tags in sentences:
            words, tags = words.split(), tags.split()
            records.append(
                {
                    "part_id": 0,
                    "words": words,
                    "pos_tags": [6] * len(words),
                    "parse_tree": "(TOP " + " ".join(f"(NN {w})" for w in words) + ")",
                    "predicate_lemmas": [None] * len(words),
                    "predicate_framenet_ids": [None] * len(words),
                    "word_senses": [None] * len(words),
                    "speaker": None,
                    "named_entities": [names.index(tag) for tag in tags],
                    "srl_frames": [],
                    "coref_spans": [[0, 0, 0]],
                }
            )
        rows.append({"document_id": document_id, "sentences": records})
    return rows


def write_hub_parquet(datasets, folder: Path, names: list[str], with_validation: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    features = ontonotes_features(names)
    splits = {"train": RAW_TRAIN_DOCS, "test": RAW_TEST_DOCS}
    if with_validation:
        splits["validation"] = RAW_VALID_DOCS
    for split, documents in splits.items():
        dataset = datasets.Dataset.from_list(hub_rows(documents, names), features=features)
        dataset.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    return folder


def test_hub_parquet_matches_conll2012(offline_datasets, tmp_path: Path) -> None:
    folder = write_hub_parquet(offline_datasets, tmp_path / "parquet", ONTONOTES_NAMES)
    data = load_ner("hub", folder)

    assert pairs(data.train) == EXPECTED_TRAIN
    assert pairs(data.valid) == EXPECTED_VALID
    assert pairs(data.test) == EXPECTED_TEST
    assert data.tags == EXPECTED_TAGS
    assert data.stats["dropped_entities"] == load_ner("conll2012", CONLL_FIXTURE).stats["dropped_entities"]


def test_hub_reads_tag_names_from_the_schema(offline_datasets, tmp_path: Path) -> None:
    """Label ids mean what the ClassLabel says, so another name order gives the same tags."""
    folder = write_hub_parquet(offline_datasets, tmp_path / "parquet", ONTONOTES_NAMES[::-1])
    data = load_ner("hub", folder)
    assert pairs(data.train) == EXPECTED_TRAIN
    assert pairs(data.test) == EXPECTED_TEST


def test_hub_without_validation_carves_dev(offline_datasets, tmp_path: Path) -> None:
    folder = write_hub_parquet(offline_datasets, tmp_path / "parquet", ONTONOTES_NAMES, with_validation=False)
    data = load_ner("hub", folder, dev_fraction=0.4, min_length=1)
    assert data.stats["dev_from_train"] is True
    assert data.stats["read_sizes"] == {"train": 3, "valid": 2, "test": 2}


def test_hub_failure_names_both_local_options(offline_datasets, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'ontonotes/conll2012_ontonotesv5' on the Hub")

    monkeypatch.setattr(offline_datasets, "load_dataset", unreachable)
    with pytest.raises(DataError) as caught:
        load_ner("hub")
    message = str(caught.value)
    assert "ontonotes/conll2012_ontonotesv5" in message
    assert "data.source=conll2012 data.data_dir=" in message
    assert "data.source=columns data.data_dir=" in message
    assert "ConnectionError" in message


def test_hub_folder_without_parquet(offline_datasets, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train\*\.parquet"):
        load_ner("hub", tmp_path)


def test_column_files_read_as_the_hub_default_suggest_task_source_columns(offline_datasets, tmp_path: Path) -> None:
    """``task=ner data.data_dir=<MSRA folder>`` forgets ``data.source=columns``: the message says so."""
    (tmp_path / "msra_train.txt").write_text("张 B-PER\n", encoding="utf-8")
    (tmp_path / "msra_test.txt").write_text("张 B-PER\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"holds text files .*pass data\.source=columns"):
        load_ner("hub", tmp_path)


# --- columns -------------------------------------------------------------------------------


def test_columns_alias_and_filter_types(tmp_path: Path) -> None:
    train = [
        sentence("张 三 在 北 京", "B-PER I-PER O B-LOC I-LOC"),
        sentence("微 软 公 司 很 大", "B-ORG I-ORG I-ORG I-ORG O O"),
        sentence("英 语 很 难", "B-LANGUAGE I-LANGUAGE O O"),
        sentence("中 国 人", "B-GPE I-GPE O"),
    ]
    folder = columns_corpus(tmp_path, train, dev=[sentence("李 四", "B-PER I-PER")], sep="\t")
    data = load_ner("columns", folder)

    assert pairs(data.train) == [
        (["张", "三", "在", "北", "京"], ["B-PERSON", "I-PERSON", "O", "B-LOC", "I-LOC"]),
        (["微", "软", "公", "司", "很", "大"], ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "O"]),
        (["英", "语", "很", "难"], ["O", "O", "O", "O"]),
        (["中", "国", "人"], ["B-GPE", "I-GPE", "O"]),
    ]
    assert pairs(data.valid) == [(["李", "四"], ["B-PERSON", "I-PERSON"])]
    assert data.stats["dropped_entities"]["train"] == {"LANGUAGE": 1}
    assert data.stats["dev_from_train"] is False


def test_columns_entity_types_order_sets_tag_inventory(tmp_path: Path) -> None:
    folder = columns_corpus(tmp_path, [sentence("张 三 在 北 京", "B-PER I-PER O B-LOC I-LOC")], dev=[])
    data = load_ner("columns", folder, entity_types=("PERSON", "LOC"))
    assert data.tags == ["O", "B-PERSON", "I-PERSON", "B-LOC", "I-LOC"]


def test_columns_crlf_same_as_lf(tmp_path: Path) -> None:
    train = [sentence("张 三 说", "B-PER I-PER O"), sentence("好 的", "O O")]
    dev = [sentence("北 京", "B-LOC I-LOC")]
    lf = load_ner("columns", columns_corpus(tmp_path / "lf", train, dev=dev))
    crlf_folder = columns_corpus(tmp_path / "crlf", train, dev=dev, newline="\r\n")
    assert b"\r\n" in (crlf_folder / "train.txt").read_bytes()
    crlf = load_ner("columns", crlf_folder)
    assert (
        pairs(crlf.train)
        == pairs(lf.train)
        == [
            (["张", "三", "说"], ["B-PERSON", "I-PERSON", "O"]),
            (["好", "的"], ["O", "O"]),
        ]
    )
    assert all("\r" not in t for s in crlf.train + crlf.valid + crlf.test for t in s.tokens + s.tags)


def test_columns_unicode_space_is_a_token(tmp_path: Path) -> None:
    """Only ASCII blanks separate the fields: an ideographic space (U+3000) is a character of the text."""
    folder = columns_corpus(tmp_path, [[("张", "B-PER"), ("\u3000", "O"), ("说", "O")]], dev=[], sep="\t")
    assert load_ner("columns", folder).train[0].tokens == ["张", "\u3000", "说"]


def test_columns_lines_break_at_newline_only(tmp_path: Path) -> None:
    """U+2028, U+0085 and a lone CR are characters of a token, not line ends; a byte-order mark
    is dropped and a last line without its newline still counts."""
    folder = columns_corpus(tmp_path, [sentence("张 三", "B-PER I-PER")], dev=[sentence("北 京", "B-LOC I-LOC")])
    text = "\ufeff张\tB-PER\r\n\u2028\tO\r\n\x85\tO\n\r3\tO\n\n说\tO\n了\tO"
    (folder / "train.txt").write_bytes(text.encode("utf-8"))
    data = load_ner("columns", folder)
    assert pairs(data.train) == [
        (["张", "\u2028", "\x85", "\r3"], ["B-PERSON", "O", "O", "O"]),
        (["说", "了"], ["O", "O"]),
    ]


def test_repeated_tokens_and_tags_share_one_string(tmp_path: Path) -> None:
    """A corpus repeats a few thousand tokens millions of times: one object each keeps MSRA's
    loading memory to a third."""
    folder = columns_corpus(
        tmp_path,
        [sentence("张 三 说", "B-PER I-PER O"), sentence("张 三 来", "B-PER I-PER O")],
        dev=[sentence("张 三", "B-PER I-PER")],
    )
    first, second = load_ner("columns", folder).train
    assert all(a is b for a, b in zip(first.tokens[:2] + first.tags, second.tokens[:2] + second.tags, strict=True))


def test_columns_bmes_and_bioes_become_bio(tmp_path: Path) -> None:
    train = [
        sentence("中 华 人 民 共 和 国", "B-LOC M-LOC M-LOC M-LOC M-LOC M-LOC E-LOC"),  # BMES
        sentence("京 沪 线", "S-LOC S-LOC O"),
        sentence("张 三 丰 来 了", "B-PER I-PER E-PER O O"),  # BIOES
        sentence("新 华 社 讯", "B-ORG I-ORG E-ORG O"),
    ]
    data = load_ner("columns", columns_corpus(tmp_path, train, dev=[]))
    assert [s.tags for s in data.train] == [
        ["B-LOC"] + ["I-LOC"] * 6,
        ["B-LOC", "B-LOC", "O"],
        ["B-PERSON", "I-PERSON", "I-PERSON", "O", "O"],
        ["B-ORG", "I-ORG", "I-ORG", "O"],
    ]
    assert data.stats["repaired_i_tags"] == 0


def test_columns_length_filter_bounds(tmp_path: Path) -> None:
    lengths = [1, 2, 80, 81]
    train = [[(f"字{i}", "O") for i in range(n)] for n in lengths]
    data = load_ner("columns", columns_corpus(tmp_path, train, test=train, dev=train))
    for split in ("train", "valid", "test"):
        assert [len(s.tokens) for s in getattr(data, split)] == [2, 80]
        assert data.stats["dropped_by_length"][split] == {"too_short": 1, "too_long": 1}
    assert data.stats["sizes"] == {"train": 2, "valid": 2, "test": 2}


def test_columns_i_after_o_repaired_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = [
        sentence("在 北 京", "O I-LOC I-LOC"),  # I- after O
        sentence("张 三 北 京", "B-PER I-PER I-LOC I-LOC"),  # I- after another type
        sentence("说 三 了", "O E-PER O"),  # BMES E- with no B-, as MSRA has
        sentence("说 法 国", "O I-NORP I-GPE"),  # NORP dropped (no repair shown); I-GPE continued nothing
    ]
    with caplog.at_level(logging.INFO, logger="adamomentum.data.ner"):
        data = load_ner("columns", columns_corpus(tmp_path, train, dev=[]))
    assert [s.tags for s in data.train] == [
        ["O", "B-LOC", "I-LOC"],
        ["B-PERSON", "I-PERSON", "B-LOC", "I-LOC"],
        ["O", "B-PERSON", "O"],
        ["O", "O", "B-GPE"],
    ]
    assert data.stats["repaired_i_tags"] == 4
    assert data.stats["repaired_i_tags_by_split"] == {"train": 4, "valid": 0, "test": 0}
    assert data.stats["dropped_entities"]["train"] == {"NORP": 1}
    messages = [r.getMessage() for r in caplog.records if r.name == "adamomentum.data.ner"]
    assert any("train 4, valid 0, test 1 sentences" in m for m in messages)
    assert any("repaired 4 I- tags" in m for m in messages)


def msra_style_corpus(folder: Path, count: int = 50) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    train = [sentence(f"第 {i} 句 在 北 京", "O O O O B-LOC E-LOC") for i in range(count)]
    write_columns(folder / "msra_train.txt", train, newline="\r\n")
    write_columns(folder / "msra_test.txt", train[:3], newline="\r\n")
    return folder


def test_columns_dev_carved_from_train_with_fixed_seed(tmp_path: Path) -> None:
    folder = msra_style_corpus(tmp_path)
    first = load_ner("columns", folder)
    again = load_ner("columns", folder)
    other_seed = load_ner("columns", folder, seed=1)

    assert first.stats["dev_from_train"] is True
    assert (len(first.train), len(first.valid)) == (45, 5)
    assert pairs(first.valid) == pairs(again.valid) and pairs(first.train) == pairs(again.train)
    assert pairs(first.valid) != pairs(other_seed.valid)
    dev_ids = {s.tokens[1] for s in first.valid}
    train_ids = [s.tokens[1] for s in first.train]
    assert dev_ids.isdisjoint(train_ids) and len(dev_ids | set(train_ids)) == 50
    assert train_ids == sorted(train_ids, key=int)  # corpus order kept


def test_columns_train_cap_is_a_seeded_ordered_sample(tmp_path: Path) -> None:
    folder = msra_style_corpus(tmp_path)
    capped = load_ner("columns", folder, max_train_sentences=10)
    uncapped = load_ner("columns", folder)

    assert len(capped.train) == 10
    assert capped.stats["train_before_cap"] == 45
    assert pairs(capped.valid) == pairs(uncapped.valid)  # the cap never touches dev
    ids = [s.tokens[1] for s in capped.train]
    assert ids == sorted(ids, key=int)
    assert set(ids) <= {s.tokens[1] for s in uncapped.train}
    assert pairs(load_ner("columns", folder, max_train_sentences=10).train) == pairs(capped.train)
    assert len(load_ner("columns", folder, max_train_sentences=1000).train) == 45


def test_columns_wrong_field_count_names_file_and_line(tmp_path: Path) -> None:
    folder = columns_corpus(tmp_path, [sentence("张 三", "B-PER I-PER")], dev=[])
    (folder / "train.txt").write_text("张 B-PER\n三 I-PER\n\n好 O extra\n", encoding="utf-8")
    with pytest.raises(DataError, match="3 fields") as caught:
        load_ner("columns", folder)
    assert f"{folder / 'train.txt'}:4:" in str(caught.value)


def test_columns_unknown_prefix_names_file_line_and_tag(tmp_path: Path) -> None:
    folder = columns_corpus(tmp_path, [sentence("张 三", "B-PER I-PER")], dev=[])
    (folder / "test.txt").write_text("张 B-PER\r\n三 X-PER\r\n", encoding="utf-8")
    with pytest.raises(DataError, match="'X-PER'") as caught:
        load_ner("columns", folder)
    assert f"{folder / 'test.txt'}:2:" in str(caught.value)


def test_columns_underscore_separator_is_not_a_tag(tmp_path: Path) -> None:
    folder = columns_corpus(tmp_path, [sentence("张 三", "B_PER I_PER")], dev=[])
    with pytest.raises(DataError, match="'B_PER'"):
        load_ner("columns", folder)


def test_columns_ambiguous_file_names_list_candidates(tmp_path: Path) -> None:
    folder = msra_style_corpus(tmp_path)
    shutil.copy(folder / "msra_train.txt", folder / "weibo_train.txt")
    with pytest.raises(DataError, match="msra_train.txt, weibo_train.txt"):
        load_ner("columns", folder)


def test_columns_missing_test_file(tmp_path: Path) -> None:
    write_columns(tmp_path / "train.txt", [sentence("张 三", "B-PER I-PER")])
    with pytest.raises(DataError, match="no test.txt"):
        load_ner("columns", tmp_path)


def test_columns_not_utf8_names_line(tmp_path: Path) -> None:
    folder = columns_corpus(tmp_path, [sentence("张 三", "B-PER I-PER")], dev=[])
    (folder / "train.txt").write_bytes("张 B-PER\n".encode() + "三 I-PER\n".encode("gb18030"))
    with pytest.raises(DataError, match=r"train\.txt:2: .*not UTF-8"):
        load_ner("columns", folder)


def test_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="hub, conll2012, columns"):
        load_ner("ontonotes", "x")
    with pytest.raises(ConfigError, match="data.data_dir"):
        load_ner("columns")
    with pytest.raises(ConfigError, match="min_length"):
        load_ner("columns", ".", min_length=5, max_length=4)


def test_build_vocab_is_deterministic() -> None:
    sentences = [Sentence(["b", "a", "c"], ["O"] * 3), Sentence(["a", "b", "d"], ["O"] * 3)]
    assert build_vocab(sentences) == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert build_vocab(sentences, min_count=2) == ["<pad>", "<unk>", "a", "b"]


# --- the real MSRA corpus ------------------------------------------------------------------

MSRA_DIR = os.environ.get("MSRA_DIR")


@pytest.mark.skipif(not MSRA_DIR, reason="set MSRA_DIR to the MSRA folder (msra_train.txt, msra_test.txt) to run")
def test_msra_loads() -> None:
    data = load_ner("columns", MSRA_DIR)
    stats = data.stats

    assert stats["dev_from_train"] is True
    assert stats["read_sizes"]["train"] + stats["read_sizes"]["valid"] == 50_289
    assert stats["read_sizes"]["test"] == 5_000
    assert stats["sizes"]["test"] == 5_000 - sum(stats["dropped_by_length"]["test"].values())
    assert stats["dropped_by_length"]["test"]["too_short"] > 0  # MSRA test has 1-character sentences
    seen = {t for split in stats["entity_counts"].values() for t in split}
    assert seen == {"PERSON", "LOC", "ORG"}
    assert data.tags == ["O"] + [f"{p}-{t}" for t in DEFAULT_ENTITY_TYPES for p in "BI"]
    for s in data.train[:200]:
        assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in s.tags)

    capped = load_ner("columns", MSRA_DIR, max_train_sentences=14_700)
    assert len(capped.train) == 14_700
    assert pairs(capped.valid) == pairs(data.valid) and pairs(capped.test) == pairs(data.test)
