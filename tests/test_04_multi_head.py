"""Capítulo 04: multi-head attention e feed-forward, no código do próprio notebook."""
import math
import re

import nbformat
import pytest
import torch

from causality import assert_causal, assert_model_causal, perturb_vectors
from nbcode import definitions, notebook_path

NB = definitions("04")
TEXT = "O Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name;\n"
BLOCK = 8
MODELS = ["MultiHeadLanguageModel", "FeedForwardLanguageModel"]


@pytest.fixture(scope="module")
def tokenizer():
    return NB["CharTokenizer"](TEXT)


def make(name, vocab_size, n_head=4):
    torch.manual_seed(0)
    return NB[name](vocab_size, n_embd=16, n_head=n_head, block_size=BLOCK).eval()



@pytest.mark.parametrize("n_head", [1, 2, 4])
def test_multi_head_attention_is_causal(n_head):
    torch.manual_seed(0)
    mha = NB["MultiHeadAttention"](n_embd=16, n_head=n_head, block_size=BLOCK)
    assert_causal(mha, lambda T: torch.randn(2, T, 16), perturb_vectors, BLOCK)


@pytest.mark.parametrize("name", MODELS)
def test_models_are_causal(name, tokenizer):
    V = tokenizer.vocab_size
    model = make(name, V)
    assert_model_causal(model, V, BLOCK)
    assert NB["is_causal"](model, V, BLOCK, "cpu")


def test_heads_are_concatenated_then_projected():
    torch.manual_seed(0)
    mha = NB["MultiHeadAttention"](n_embd=16, n_head=4, block_size=BLOCK)
    assert [head.head_size for head in mha.heads] == [4, 4, 4, 4]
    x = torch.randn(3, BLOCK, 16)
    with torch.no_grad():
        expected = mha.proj(torch.cat([head(x) for head in mha.heads], dim=-1))
        assert torch.allclose(mha(x), expected)
    assert mha(x).shape == (3, BLOCK, 16)


def test_heads_must_divide_embedding():
    with pytest.raises(NB["FriendlyError"], match="divisível"):
        NB["MultiHeadAttention"](n_embd=30, n_head=4, block_size=BLOCK)


def test_feed_forward_is_position_wise():
    torch.manual_seed(0)
    ffwd = NB["FeedForward"](16)
    x = torch.randn(2, BLOCK, 16)
    with torch.no_grad():
        one_by_one = torch.stack([ffwd(x[:, t]) for t in range(BLOCK)], dim=1)
        assert torch.allclose(ffwd(x), one_by_one, atol=1e-6)
    hidden = [m for m in ffwd.modules() if isinstance(m, torch.nn.Linear)][0]
    assert hidden.out_features == 4 * 16


@pytest.mark.parametrize("name", MODELS)
def test_initial_loss_is_about_uniform_guess(name, tokenizer):
    model = make(name, tokenizer.vocab_size)
    idx, targets = torch.randint(tokenizer.vocab_size, (32, BLOCK)), torch.randint(tokenizer.vocab_size, (32, BLOCK))
    _, loss = model(idx, targets)
    assert loss.item() == pytest.approx(math.log(tokenizer.vocab_size), abs=0.05)
    assert model(idx)[1] is None


@pytest.mark.parametrize("name", MODELS)
def test_generate_crops_long_prompt(name, tokenizer):
    model = make(name, tokenizer.vocab_size)
    prompt = TEXT * 2
    out = NB["sample"](model, tokenizer, prompt, max_new_tokens=12, block_size=BLOCK, device="cpu")
    assert out.startswith(prompt) and len(out) == len(prompt) + 12
    with pytest.raises(NB["FriendlyError"], match="block_size"):
        model(torch.zeros(1, BLOCK + 1, dtype=torch.long))


@pytest.mark.parametrize("name", MODELS)
def test_prompt_errors(name, tokenizer):
    model = make(name, tokenizer.vocab_size)
    with pytest.raises(NB["FriendlyError"], match="vazio"):
        NB["sample"](model, tokenizer, "", max_new_tokens=3, block_size=BLOCK, device="cpu")
    with pytest.raises(NB["VocabularyError"], match="'ç'"):
        NB["sample"](model, tokenizer, "Romeo, coração", max_new_tokens=3, block_size=BLOCK, device="cpu")


def test_head_maps_one_per_head(tokenizer):
    model = make("FeedForwardLanguageModel", tokenizer.vocab_size)
    maps = NB["head_maps"](model, "O Romeo,", tokenizer)
    assert len(maps) == 4 and all(m.shape == (8, 8) for m in maps)
    assert all(torch.allclose(m.sum(dim=-1), torch.ones(8)) for m in maps)



def chapter_cells():
    """As células do capítulo 04: (tipo, texto da célula markdown ou o que a célula de código imprimiu)."""
    nb = nbformat.read(notebook_path("04"), as_version=4)
    image = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+")
    return [(cell.cell_type, image.sub("", cell.source) if cell.cell_type == "markdown"
             else "".join(out.get("text", "") for out in cell.get("outputs", []))) for cell in nb.cells]


def prose_after(cells, pattern):
    """O que a célula de código cuja saída casa com `pattern` imprimiu, e a primeira célula markdown depois dela."""
    for i, (kind, text) in enumerate(cells):
        if kind == "code" and re.search(pattern, text, re.M):
            following = next(t for k, t in cells[i + 1:] if k == "markdown")
            return text, following
    raise LookupError(f"nenhuma saída guardada do capítulo 04 casa com {pattern!r}")


def pt(value):
    """2.2897 -> '2,29'; 8609 -> '8.609': como a prosa escreve os números."""
    return f"{value:,}".replace(",", ".") if isinstance(value, int) else f"{value:.2f}".replace(".", ",")


def test_prose_numbers_match_stored_outputs():
    """Os números que a prosa cita batem com as saídas guardadas (depois de reexecutar, atualize a prosa)."""
    cells = chapter_cells()
    prose = "\n".join(text for kind, text in cells if kind == "markdown")
    for stage, label in [("4 cabeças", "4 cabeças"), ("4 cabeças + feed-forward", "feed-forward")]:
        printed, comment = prose_after(cells, rf"perda de validação final \({re.escape(stage)}\)")
        loss = pt(float(re.search(rf"\({re.escape(stage)}\): ([0-9.]+)", printed).group(1)))
        assert f"≈ {loss}" in comment, f"o comentário depois do treino ({stage}) deveria citar ≈ {loss}"
        quoted = set(re.findall(rf"{label} ≈ (\d,\d\d)", prose))
        assert quoted == {loss}, f"a prosa cita '{label} ≈ {sorted(quoted)}', mas a saída guardada dá {loss}"
    counts = [r"^q, k, v de 4 cabeças de 8: ([\d .]+) parâmetros", r"^projeção W\^O: ([\d .]+) parâmetros",
              r"^parâmetros: ([\d .]+)$", r"^parâmetros: ([\d .]+) \("]
    for pattern in counts:
        printed, _ = prose_after(cells, pattern)
        count = int(re.sub(r"[ .]", "", re.search(pattern, printed, re.M).group(1)))
        assert pt(count) in prose, f"a saída guardada dá {count} parâmetros, e a prosa não cita {pt(count)}"


def test_prose_attention_weights_match_stored_outputs():
    """Os pesos na própria posição e na anterior, citados depois dos mapas da linha inteira, são os impressos."""
    cells = chapter_cells()
    line = r"cabeça \d: na própria posição ([0-9.]+), na anterior ([0-9.]+)"
    try:
        printed, comment = prose_after(cells, line)
    except LookupError:
        pytest.skip("as saídas guardadas são de antes da versão atual da célula dos pesos: reexecute o capítulo")
    weights = re.findall(line, printed)
    assert len(weights) == 4
    printed_weights = {pt(float(w)) for pair in weights for w in pair}
    quoted = set(re.findall(r"\b0,\d\d\b", comment))
    assert {pt(float(own)) for own, _ in weights} <= quoted, "o comentário deveria citar o peso de cada cabeça"
    assert quoted <= printed_weights, f"o comentário cita {sorted(quoted - printed_weights)}, que a saída não imprime"
