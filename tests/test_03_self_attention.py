"""Capítulo 03: a cabeça de self-attention e o modelo com uma cabeça, no código do próprio notebook."""
import math

import pytest
import torch

from causality import assert_causal, assert_model_causal, perturb_vectors
from nbcode import definitions

NB = definitions("03")
TEXT = "O Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name;\n"
BLOCK = 8


@pytest.fixture(scope="module")
def tokenizer():
    return NB["CharTokenizer"](TEXT)


@pytest.fixture
def model(tokenizer):
    torch.manual_seed(0)
    return NB["SingleHeadLanguageModel"](tokenizer.vocab_size, n_embd=16, block_size=BLOCK).eval()


def test_head_is_causal():
    torch.manual_seed(0)
    head = NB["Head"](n_embd=16, head_size=8, block_size=BLOCK)
    assert_causal(head, lambda T: torch.randn(2, T, 16), perturb_vectors, BLOCK)


def test_model_is_causal(model, tokenizer):
    assert_model_causal(model, tokenizer.vocab_size, BLOCK)


def test_notebook_causality_check_agrees(model, tokenizer):
    assert NB["is_causal"](model, tokenizer.vocab_size, BLOCK, "cpu")

    class Leaky(torch.nn.Module):  # olha para o fim da sequência: não é causal
        def forward(self, idx, targets=None):
            return model(idx)[0] + model(idx)[0][:, -1:], None

    assert not NB["is_causal"](Leaky(), tokenizer.vocab_size, BLOCK, "cpu")


def test_attention_weights_are_a_causal_average():
    torch.manual_seed(0)
    head = NB["Head"](n_embd=16, head_size=8, block_size=BLOCK)
    for T in range(1, BLOCK + 1):
        w = head.weights(torch.randn(3, T, 16))
        assert w.shape == (3, T, T)
        assert torch.allclose(w.sum(dim=-1), torch.ones(3, T))
        assert (w.triu(diagonal=1) == 0).all()


@pytest.mark.parametrize("head_size", [4, 16, 64, 256])
def test_scaling_keeps_attention_logits_at_unit_variance(head_size):
    """Com q e k de variância 1, q·k tem variância head_size; dividido por √head_size, volta a ≈ 1."""
    torch.manual_seed(0)
    n_embd = 64
    head = NB["Head"](n_embd=n_embd, head_size=head_size, block_size=BLOCK)
    for layer in (head.query, head.key):  # q e k com componentes de variância 1 para x ~ N(0, 1)
        torch.nn.init.normal_(layer.weight, std=n_embd**-0.5)
    with torch.no_grad():
        scores = head.scores(torch.randn(256, BLOCK, n_embd))
    visible = scores[torch.isfinite(scores)]
    assert visible.var().item() == pytest.approx(1.0, rel=0.2)
    future = torch.triu(torch.ones(BLOCK, BLOCK, dtype=torch.bool), diagonal=1)
    assert (scores[:, future] == float("-inf")).all()


def test_initial_loss_is_about_uniform_guess(model, tokenizer):
    idx = torch.randint(tokenizer.vocab_size, (32, BLOCK))
    _, loss = model(idx, torch.randint(tokenizer.vocab_size, (32, BLOCK)))
    assert loss.item() == pytest.approx(math.log(tokenizer.vocab_size), abs=0.05)


def test_generate_crops_prompt_longer_than_block_size(model, tokenizer):
    prompt = TEXT * 2
    assert len(prompt) > BLOCK
    out = NB["sample"](model, tokenizer, prompt, max_new_tokens=12, block_size=BLOCK, device="cpu")
    assert out.startswith(prompt) and len(out) == len(prompt) + 12


def test_forward_refuses_too_long_sequence_in_portuguese(model, tokenizer):
    with pytest.raises(NB["FriendlyError"], match="block_size"):
        model(torch.zeros(1, BLOCK + 1, dtype=torch.long))


def test_prompt_errors(model, tokenizer):
    with pytest.raises(NB["FriendlyError"], match="vazio"):
        NB["sample"](model, tokenizer, "", max_new_tokens=3, block_size=BLOCK, device="cpu")
    with pytest.raises(NB["VocabularyError"], match="'ê'"):
        NB["sample"](model, tokenizer, "Romeo, thou art ê", max_new_tokens=3, block_size=BLOCK, device="cpu")


def test_line_attention_is_a_causal_band_of_window_rows(tokenizer, model):
    """Cada linha é a última linha da atenção da janela que termina nela: soma 1, nada no futuro nem antes da janela."""
    line = TEXT.splitlines()[0]
    full = NB["line_attention"](model.sa_head.weights, model.embed, line, tokenizer, BLOCK, "cpu")
    assert full.shape == (len(line), len(line))
    assert torch.allclose(full.sum(dim=-1), torch.ones(len(line)), atol=1e-6)
    for t in range(len(line)):
        start = max(0, t + 1 - BLOCK)
        assert full[t, :start].abs().sum() == 0 and full[t, t + 1 :].abs().sum() == 0
    t = len(line) - 1  # a última posição: a janela dos últimos BLOCK caracteres, calculada direto
    idx = torch.tensor([tokenizer.encode(line[t + 1 - BLOCK : t + 1])])
    with torch.no_grad():
        direct = model.sa_head.weights(model.embed(idx))[0, -1]
    assert torch.allclose(full[t, t + 1 - BLOCK :], direct, atol=1e-6)


def _unit_variance_scores(n, size=64, seed=0):
    """Afinidades q·k (n, BLOCK, BLOCK) de q e k com componentes independentes de variância 1, como na seção 3."""
    torch.manual_seed(seed)
    q, k = torch.randn(n, BLOCK, size), torch.randn(n, BLOCK, size)
    return q @ k.transpose(-2, -1)


def test_score_gradient_counts_the_scaling_in_the_chain_rule():
    """O gradiente da seção 3 é medido em q·k, antes da escala: inclui o fator 1/√head_size da regra da cadeia."""
    raw, factor = _unit_variance_scores(50), 64**-0.5
    upstream = torch.randn(50, BLOCK)
    scaled = (raw * factor).requires_grad_()
    (NB["causal_softmax"](scaled)[:, -1] * upstream).sum().backward()
    expected = factor * scaled.grad[:, -1].norm(dim=-1)
    assert torch.allclose(NB["score_gradient"](raw, factor, upstream), expected)


def test_unscaled_softmax_leaves_many_rows_without_gradient():
    """O que o capítulo afirma: sem a divisão, ~40% das linhas ficam com gradiente quase nulo em q·k, contra quase
    nenhuma com ela; já a mediana muda pouco (umas 1,4 vez), e não 10 vezes."""
    raw = _unit_variance_scores(1000)
    upstream = torch.randn(1000, BLOCK)
    unscaled = NB["score_gradient"](raw, 1.0, upstream)
    scaled = NB["score_gradient"](raw, 64**-0.5, upstream)
    assert (unscaled < 0.01).float().mean() > 0.3
    assert (scaled < 0.01).float().mean() < 0.02
    assert 1.1 < scaled.median() / unscaled.median() < 2


def test_score_stats_measures_the_scores_of_the_head(model, tokenizer):
    """As variâncias impressas nas seções 5 e 6 são as das afinidades que `Head.scores` calcula."""
    data = torch.tensor(tokenizer.encode(TEXT * 4))
    stats = NB["score_stats"](model, data, BLOCK, batch_size=16)
    xb, _ = NB["get_batch"](data, 16, BLOCK, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = model.embed(xb)
        scores = model.sa_head.scores(x)
        q = model.sa_head.query(x)
    visible = scores[torch.isfinite(scores)]
    assert stats["q·k/√d"] == pytest.approx(visible.var().item(), rel=1e-4)
    assert stats["q·k"] == pytest.approx(visible.var().item() * model.sa_head.head_size, rel=1e-4)
    assert stats["q"] == pytest.approx(q.var().item(), rel=1e-5)
