"""Checagem de causalidade usada pelos testes dos capítulos com atenção."""
import torch


def assert_causal(fn, make_input, perturb, block_size):
    """Para todo T ≤ block_size e todo t < T: mudar a entrada na posição t não muda as saídas antes de t,
    e muda a saída na própria posição t (a perturbação chega a algum lugar)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for T in range(1, block_size + 1):
            x = make_input(T)
            out = fn(x)
            for t in range(T):
                changed = perturb(x, t)
                new = fn(changed)
                assert torch.allclose(new[:, :t], out[:, :t], atol=1e-6), f"T={T}: a posição {t} vazou para trás"
                assert not torch.allclose(new[:, t], out[:, t]), f"T={T}: mudar a posição {t} não mudou nada"


def perturb_vectors(x, t):
    """Soma ruído aos vetores da posição t."""
    changed = x.clone()
    changed[:, t] += torch.randn_like(changed[:, t])
    return changed


def perturb_tokens(vocab_size):
    """Troca o token da posição t pelo seguinte no vocabulário."""
    def perturb(idx, t):
        changed = idx.clone()
        changed[:, t] = (changed[:, t] + 1) % vocab_size
        return changed

    return perturb


def assert_model_causal(model, vocab_size, block_size):
    """assert_causal para um modelo de linguagem: entradas de tokens, saída = logits."""
    assert_causal(lambda idx: model(idx)[0], lambda T: torch.randint(vocab_size, (2, T)), perturb_tokens(vocab_size),
                  block_size)
