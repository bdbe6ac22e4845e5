"""Capítulo 02: o bigrama, a perda inicial, generate/sample e o laço de treino, no código do próprio notebook."""
import math

import pytest
import torch

from causality import assert_model_causal
from nbcode import definitions

NB = definitions("02")
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n"


@pytest.fixture(scope="module")
def tokenizer():
    return NB["CharTokenizer"](TEXT)


@pytest.fixture
def model(tokenizer):
    torch.manual_seed(0)
    return NB["BigramLanguageModel"](tokenizer.vocab_size)


def test_contract_logits_and_loss(model, tokenizer):
    idx = torch.randint(tokenizer.vocab_size, (3, 5))
    logits, loss = model(idx)
    assert logits.shape == (3, 5, tokenizer.vocab_size)
    assert loss is None
    _, loss = model(idx, idx)
    assert loss.ndim == 0


def test_initial_loss_is_uniform_guess():
    """Com a inicialização do capítulo (logits ≈ 0), a perda inicial é −ln(1/V) = ln V."""
    torch.manual_seed(0)
    model = NB["BigramLanguageModel"](65)
    idx, targets = torch.randint(65, (32, 8)), torch.randint(65, (32, 8))
    _, loss = model(idx, targets)
    assert loss.item() == pytest.approx(math.log(65), abs=0.02)


@pytest.mark.parametrize("block_size", [1, 8])
def test_causal_for_every_length(model, tokenizer, block_size):
    assert_model_causal(model, tokenizer.vocab_size, block_size)


class LengthSpy(torch.nn.Module):
    """Envolve um modelo e anota o comprimento de cada sequência que ele recebe."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.lengths = inner, []

    def forward(self, idx, targets=None):
        self.lengths.append(idx.shape[1])
        return self.inner(idx, targets)


def test_generate_crops_context_to_block_size(model, tokenizer):
    spy = LengthSpy(model)
    prompt = torch.randint(tokenizer.vocab_size, (2, 20))
    out = NB["generate"](spy, prompt, max_new_tokens=7, block_size=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 27)
    assert torch.equal(out[:, :20], prompt)
    assert max(spy.lengths) == 4


def test_sample_returns_prompt_plus_continuation(model, tokenizer):
    long_prompt = TEXT * 3  # bem mais longo que block_size
    out = NB["sample"](model, tokenizer, long_prompt, max_new_tokens=15, block_size=8, device="cpu")
    assert out.startswith(long_prompt) and len(out) == len(long_prompt) + 15
    again = NB["sample"](model, tokenizer, long_prompt, max_new_tokens=15, block_size=8, device="cpu")
    assert out == again, "mesma semente, mesmo texto"


def test_empty_prompt_gives_friendly_error(model, tokenizer):
    with pytest.raises(NB["FriendlyError"], match="vazio"):
        NB["sample"](model, tokenizer, "", max_new_tokens=5, block_size=8, device="cpu")


def test_unknown_character_names_it(model, tokenizer):
    with pytest.raises(NB["VocabularyError"]) as error:
        NB["sample"](model, tokenizer, "Olá", max_new_tokens=5, block_size=8, device="cpu")
    message = str(error.value)
    assert "'á'" in message and "vocabulário" in message
    assert isinstance(error.value, NB["FriendlyError"])


def test_estimate_loss_is_repeatable_and_restores_mode(model):
    data = torch.randint(65, (500,))
    model = NB["BigramLanguageModel"](65)
    model.train()
    splits = {"train": data, "val": data}
    first = NB["estimate_loss"](model, splits, batch_size=4, block_size=8, eval_iters=3, device="cpu")
    second = NB["estimate_loss"](model, splits, batch_size=4, block_size=8, eval_iters=3, device="cpu")
    assert first == second and model.training


def test_training_lowers_the_loss(capsys):
    """Poucos passos de treino num texto repetitivo já derrubam a perda de validação."""
    tokenizer = NB["CharTokenizer"](TEXT)
    data = torch.tensor(tokenizer.encode(TEXT * 40))
    train_data, val_data = NB["split_data"](data)
    torch.manual_seed(0)
    model = NB["BigramLanguageModel"](tokenizer.vocab_size)
    history = NB["train"](model, train_data, val_data, steps=60, batch_size=16, block_size=8, lr=1e-1,
                          eval_interval=30, eval_iters=5, device="cpu")
    assert history["step"] == [0, 30, 60]
    assert history["val"][-1] < history["val"][0] - 0.5
    assert "perda de treino" in capsys.readouterr().out


def test_loss_is_cross_entropy_with_classes_in_dimension_1(model, tokenizer):
    """F.cross_entropy quer as classes na dimensão 1: (B·T, C) achatado ou (B, C, T) dão a mesma perda."""
    idx, targets = torch.randint(tokenizer.vocab_size, (3, 5)), torch.randint(tokenizer.vocab_size, (3, 5))
    logits, loss = model(idx, targets)
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets))
