"""Os controles de amostragem (temperature, top_k, top_p) da célula de geração, definida no capítulo 02 e
explicada no 05, no código do próprio notebook."""
import math

import pytest
import torch

from nbcode import definitions

NB = definitions("05")
filter_logits, generate, SamplingError = NB["filter_logits"], NB["generate"], NB["SamplingError"]


def small_gpt():
    torch.manual_seed(0)
    config = NB["GPTConfig"](vocab_size=65, block_size=16, n_layer=2, n_head=4, n_embd=32)
    return NB["GPT"](config).eval()


@torch.no_grad()
def greedy(model, idx, steps, block_size):
    for _ in range(steps):
        logits, _ = model(idx[:, -block_size:])
        idx = torch.cat([idx, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return idx


def test_defaults_change_nothing():
    logits = torch.randn(4, 65)
    assert torch.equal(filter_logits(logits), logits)


def test_top_k_1_is_greedy_decoding():
    model, idx = small_gpt(), torch.randint(65, (3, 4))
    out = generate(model, idx, 30, 16, generator=torch.Generator().manual_seed(1), top_k=1)
    assert torch.equal(out, greedy(model, idx, 30, 16))  # passa do block_size: o corte do contexto também vale


def test_low_temperature_tends_to_greedy():
    model, idx = small_gpt(), torch.randint(65, (3, 4))
    logits = torch.randn(8, 65) * 3
    logits[:, 7] = logits.max(dim=-1).values + 0.05  # o mais provável, por pouco
    temperatures = (1.0, 0.3, 0.1, 1e-3)
    top = [torch.softmax(filter_logits(logits, temperature=t), dim=-1)[:, 7] for t in temperatures]
    assert all((colder > warmer).all() for warmer, colder in zip(top, top[1:]))
    assert (top[-1] > 0.999).all()
    out = generate(model, idx, 20, 16, generator=torch.Generator().manual_seed(1), temperature=1e-4)
    assert torch.equal(out, greedy(model, idx, 20, 16))


def test_high_temperature_spreads_toward_uniform():
    logits = torch.randn(8, 65) * 3
    entropy = [-(p * p.log()).sum(-1) for p in (torch.softmax(filter_logits(logits, temperature=t), -1)
                                                 for t in (1.0, 100.0))]
    assert (entropy[1] > entropy[0]).all() and (entropy[1] > math.log(65) - 0.01).all()


@pytest.mark.parametrize("k", [1, 5, 64, 65, 200])
def test_top_k_keeps_the_k_most_likely(k):
    logits = torch.randn(6, 65)
    kept = torch.isfinite(filter_logits(logits, top_k=k))
    assert (kept.sum(-1) == min(k, 65)).all()
    best = logits.topk(min(k, 65), dim=-1).indices
    assert kept.gather(-1, best).all()


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.999, 1.0])
def test_top_p_keeps_the_smallest_set_that_reaches_p(p):
    torch.manual_seed(2)
    logits = torch.randn(16, 65) * 2
    probs = torch.softmax(logits, dim=-1)
    kept = torch.isfinite(filter_logits(logits, top_p=p))
    for row in range(16):
        order = probs[row].argsort(descending=True)
        n = int(kept[row].sum())
        assert kept[row, order[:n]].all(), "o conjunto tem que ser dos mais prováveis"
        mass = probs[row, order].cumsum(0)
        assert mass[n - 1] >= p - 1e-6, "o conjunto tem que chegar a p"
        assert n == 1 or mass[n - 2] < p, "sem o menos provável, não chegaria a p: é o menor conjunto"


def test_controls_combine_and_renormalize():
    logits = torch.randn(4, 65)
    filtered = filter_logits(logits, temperature=0.7, top_k=10, top_p=0.8)
    kept = torch.isfinite(filtered)
    assert (kept.sum(-1) <= 10).all() and (kept.sum(-1) >= 1).all()
    torch.testing.assert_close(torch.softmax(filtered, -1).sum(-1), torch.ones(4))


@pytest.mark.parametrize("controls,named", [
    ({"temperature": 0}, "0"), ({"temperature": -1.0}, "-1.0"), ({"temperature": float("nan")}, "nan"),
    ({"top_k": 0}, "0"), ({"top_k": 2.5}, "2.5"), ({"top_p": 0}, "0"), ({"top_p": 1.5}, "1.5"),
])
def test_bad_values_get_a_portuguese_error_naming_the_value(controls, named):
    (name,) = controls
    with pytest.raises(SamplingError, match="precisa") as error:
        filter_logits(torch.randn(2, 65), **controls)
    assert name in str(error.value) and named in str(error.value)
    assert isinstance(error.value, ValueError)


def test_sample_passes_the_controls_on():
    tokenizer = NB["CharTokenizer"]("abcdefghij klmnopqrstuvwxyz\n")
    torch.manual_seed(0)
    model = NB["GPT"](NB["GPTConfig"](vocab_size=tokenizer.vocab_size, block_size=8, n_layer=1, n_head=2,
                                      n_embd=16)).eval()
    a = NB["sample"](model, tokenizer, "ab", 12, 8, "cpu", top_k=1)
    b = NB["sample"](model, tokenizer, "ab", 12, 8, "cpu", seed=5, top_k=1)
    assert a == b  # guloso: a semente não importa
    model.train()
    with pytest.raises(SamplingError):
        NB["sample"](model, tokenizer, "ab", 3, 8, "cpu", top_p=2)
    assert model.training, "depois do erro, o modelo volta ao modo em que estava"
