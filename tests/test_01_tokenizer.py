"""O tokenizer, os lotes e a escolha de dispositivo do capítulo 01, no código do próprio notebook."""
import os
import re
from pathlib import Path

import nbformat
import pytest
import torch

from nbcode import notebook_path, shared_cells

nb = shared_cells("01", "erros", "dados", "tokenizer", "lotes", "dispositivo")
CharTokenizer, VocabularyError, FriendlyError = nb["CharTokenizer"], nb["VocabularyError"], nb["FriendlyError"]


@pytest.fixture(scope="module")
def text():
    # o cache do projeto (data/), ou o de $IMPGPT_DATA_DIR; nunca uma pasta data/ ao lado do repositório
    data_dir = None if os.environ.get("IMPGPT_DATA_DIR") else Path(__file__).resolve().parent.parent / "data"
    return nb["download_dataset"](data_dir=data_dir).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tokenizer(text):
    return CharTokenizer(text)


def test_vocabulary(tokenizer):
    assert tokenizer.vocab_size == 65
    assert tokenizer.chars[:2] == ["\n", " "] and tokenizer.stoi["a"] == 39


def test_round_trip_on_the_whole_corpus(text, tokenizer):
    ids = tokenizer.encode(text)
    assert len(ids) == len(text) == 1_115_394
    assert min(ids) == 0 and max(ids) == 64
    assert tokenizer.decode(ids) == text
    assert tokenizer.decode(torch.tensor(ids[:50])) == text[:50]  # aceita tensores também


def test_unknown_characters_are_named(tokenizer):
    with pytest.raises(VocabularyError) as info:
        tokenizer.encode("ROMEO: coração à vista")
    message = str(info.value)
    for ch in "çãà":
        assert repr(ch) in message
    assert "U+00E7" in message and "65" in message
    assert isinstance(info.value, ValueError)


def test_empty_text_encodes_to_nothing(tokenizer):
    assert tokenizer.encode("") == [] and tokenizer.decode([]) == ""


def test_split_is_90_10_in_order():
    data = torch.arange(1000)
    train, val = nb["split_data"](data)
    assert len(train) == 900 and len(val) == 100 and train[-1] + 1 == val[0]


def test_get_batch_targets_are_inputs_shifted_by_one():
    data = torch.arange(500)
    gen = torch.Generator().manual_seed(0)
    x, y = nb["get_batch"](data, batch_size=16, block_size=8, generator=gen)
    assert x.shape == y.shape == (16, 8)
    assert torch.equal(y, x + 1)  # em arange, "o próximo" é +1
    assert int(y.max()) <= 499


def test_get_batch_draws_depend_only_on_its_generator():
    data = torch.arange(10_000)
    a = nb["get_batch"](data, 4, 8, generator=torch.Generator().manual_seed(7))
    torch.rand(100)  # mexer no gerador global não muda nada
    b = nb["get_batch"](data, 4, 8, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0])


def test_device_override(monkeypatch):
    monkeypatch.setenv("IMPGPT_DEVICE", "CPU")
    assert nb["pick_device"]() == "cpu"
    if not torch.cuda.is_available():
        monkeypatch.setenv("IMPGPT_DEVICE", "cuda")
        with pytest.raises(FriendlyError, match="não está disponível"):
            nb["pick_device"]()


def test_thousands_uses_a_space_never_a_point():
    """A convenção das saídas: milhares separados por espaço, o ponto só para decimais."""
    thousands = shared_cells("01", "números")["thousands"]
    assert thousands(1_115_394) == "1 115 394" and thousands(65) == "65" and thousands(4225) == "4 225"


@pytest.mark.parametrize("prefix", ["01", "02"])
def test_no_printed_line_uses_a_point_for_thousands(prefix):
    """Nas saídas guardadas, nada de 1.115.394: o ponto é só o decimal do Python (reexecute o capítulo se falhar)."""
    dotted = re.compile(r"\b\d{1,3}(?:\.\d{3}){2,}\b")  # 1.115.394: o ponto fazendo papel de milhar
    for i, cell in enumerate(nbformat.read(notebook_path(prefix), as_version=4).cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert not dotted.search(text), f"{prefix}, célula {i}: {dotted.search(text)[0]!r} na saída"
