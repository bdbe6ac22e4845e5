"""Capítulo 05: o código do próprio notebook (células de definição), testado em tamanhos pequenos."""
import pytest
import torch

from causality import assert_model_causal
from nbcode import definitions

NB = definitions("05")
GPT, GPTConfig = NB["GPT"], NB["GPTConfig"]
VOCAB = "\n !',-.:;?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def small_gpt(seed=0, **overrides):
    torch.manual_seed(seed)
    config = {"vocab_size": 65, "block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32, **overrides}
    return GPT(GPTConfig(**config)).eval()


@pytest.mark.parametrize("n_embd,n_head,T", [(32, 4, 8), (48, 3, 5), (64, 8, 16)])
def test_teaching_and_efficient_attention_agree_on_same_weights(n_embd, n_head, T):
    torch.manual_seed(1)
    mha = NB["MultiHeadAttention"](n_embd=n_embd, n_head=n_head, block_size=16).eval()
    attn = NB["CausalSelfAttention"](GPTConfig(n_embd=n_embd, n_head=n_head, block_size=16)).eval()
    NB["copy_heads_into"](mha, attn)
    x = torch.randn(3, T, n_embd)
    torch.testing.assert_close(attn(x), mha(x), atol=1e-5, rtol=1e-4)


def test_gpt_is_causal():
    model = small_gpt()
    assert_model_causal(model, 65, 16)
    assert NB["is_causal"](model, 65, 16, "cpu")


def test_gpt2_compatible_interface():
    """O capítulo 06 carrega os pesos do GPT-2 nesta classe: nomes e formas não podem mudar sem aviso."""
    config = GPTConfig()
    assert config.bias is True and config.dropout == 0.0
    model = small_gpt()
    assert model.lm_head.weight is model.token_embedding.weight
    assert model.blocks[0].attn.qkv.weight.shape == (3 * 32, 32)
    assert model.blocks[0].ffwd.fc.weight.shape == (4 * 32, 32)
    assert model.ln_f.eps == 1e-5
    assert isinstance(model.blocks[0].ffwd.gelu, torch.nn.GELU) and model.blocks[0].ffwd.gelu.approximate == "tanh"
    keys = set(model.state_dict())
    for key in ("token_embedding.weight", "position_embedding.weight", "blocks.1.ln1.bias", "blocks.1.attn.proj.weight",
                "blocks.1.ln2.weight", "blocks.1.ffwd.proj.bias", "ln_f.weight", "lm_head.weight"):
        assert key in keys


def test_initial_loss_is_uniform_guess():
    model = small_gpt()
    idx = torch.randint(65, (8, 16))
    _, loss = model(idx, torch.randint(65, (8, 16)))
    assert abs(loss.item() - torch.log(torch.tensor(65.0)).item()) < 0.1


def test_checkpoint_roundtrip(tmp_path):
    model = small_gpt(seed=3)
    path = NB["save_checkpoint"](model, tmp_path / "sub" / "gpt.pt")
    reloaded = NB["load_checkpoint"](path)
    assert reloaded.config == model.config
    idx = torch.randint(65, (2, 16))
    torch.testing.assert_close(reloaded(idx)[0], model(idx)[0], atol=0, rtol=0)
    assert reloaded.lm_head.weight is reloaded.token_embedding.weight  # a amarração sobrevive


def test_checkpoint_mismatch_explains_in_portuguese(tmp_path):
    path = NB["save_checkpoint"](small_gpt(), tmp_path / "gpt.pt")
    state = torch.load(path, weights_only=True)["model"]
    with pytest.raises(NB["CheckpointError"]) as wider:
        NB["load_weights"](small_gpt(n_embd=64), state)
    assert "não combina" in str(wider.value) and "formato diferente" in str(wider.value)
    with pytest.raises(NB["CheckpointError"]) as deeper:
        NB["load_weights"](small_gpt(n_layer=3), state)
    assert "faltam" in str(deeper.value) and "blocks.2" in str(deeper.value)


def test_sample_crops_prompt_longer_than_block_size():
    tokenizer = NB["CharTokenizer"](VOCAB)
    model = small_gpt(vocab_size=tokenizer.vocab_size, block_size=8)
    prompt = "ROMEO: where art thou, my friend?"  # 33 caracteres, contexto de 8
    out = NB["sample"](model, tokenizer, prompt, 20, model.config.block_size, "cpu", seed=0)
    assert out.startswith(prompt) and len(out) == len(prompt) + 20
    assert out == NB["sample"](model, tokenizer, prompt, 20, model.config.block_size, "cpu", seed=0)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_lr_schedule_warms_up_then_decays():
    cfg = {"lr": 1e-3, "min_lr": 1e-4, "warmup": 10, "steps": 110}
    lrs = [NB["lr_at"](s, cfg) for s in range(cfg["steps"])]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.01)


def test_teaching_block_variants_run():
    for kwargs in ({"residual": False, "norm": None}, {"residual": True, "norm": None}, {"norm": "post"}, {}):
        model = NB["BlocksLanguageModel"](65, 32, 4, 8, 3, **kwargs)
        logits, loss = model(torch.randint(65, (2, 8)), torch.randint(65, (2, 8)))
        assert logits.shape == (2, 8, 65) and loss.item() > 0
    with pytest.raises(ValueError):
        NB["TeachingBlock"](32, 4, 8, residual=False, norm="post")


@pytest.mark.parametrize("shape", [(64, 64), (256, 64), (64, 256), (3, 96, 32)])
def test_orthogonalize_keeps_directions_and_flattens_singular_values(shape):
    torch.manual_seed(0)
    # uma matriz (ou lote) mal condicionada, como um gradiente: valores singulares de 1 a 1e-2
    G = torch.randn(shape)
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    S = torch.logspace(0, -2, S.size(-1)).expand_as(S)
    G = U @ torch.diag_embed(S) @ Vh
    ortho = NB["orthogonalize"](G)
    assert ortho.shape == G.shape
    sv = torch.linalg.svdvals(ortho)
    assert sv.min() > 0.6 and sv.max() < 1.25, (sv.min(), sv.max())
    target = U @ Vh  # a matriz ortogonal mais próxima de G
    cosine = (ortho * target).sum(dim=(-2, -1)) / (ortho.norm(dim=(-2, -1)) * target.norm(dim=(-2, -1)))
    assert cosine.min() > 0.95
    assert NB["orthogonalize"](G * 1e3).sub(ortho).abs().max() < 1e-3  # não depende da escala de G


def test_muon_first_step_is_the_orthogonalized_gradient():
    torch.manual_seed(0)
    tall = torch.nn.Parameter(torch.randn(96, 32))
    wide = torch.nn.Parameter(torch.randn(32, 96))
    before = [tall.detach().clone(), wide.detach().clone()]
    grads = [torch.randn(96, 32), torch.randn(32, 96)]
    tall.grad, wide.grad = grads
    NB["Muon"]([tall, wide], lr=0.1, momentum=0.9).step()
    # 1º passo: momento = g; Nesterov: g + 0.9 g; a ortogonalização ignora a escala; matriz alta: x sqrt(96/32)
    torch.testing.assert_close(before[0] - tall.detach(), 0.1 * 3**0.5 * NB["orthogonalize"](grads[0]),
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(before[1] - wide.detach(), 0.1 * NB["orthogonalize"](grads[1]), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="2D"):
        NB["Muon"]([torch.nn.Parameter(torch.zeros(5))])


def test_make_optimizers_splits_parameters_without_overlap():
    model = small_gpt()
    cfg = {**NB["CONFIGS"]["cpu"]}
    adamw, muon = NB["make_optimizers"](model, {**cfg, "optimizer": "muon"}, "cpu")
    in_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    in_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    expected = {id(p) for name, p in model.named_parameters() if name.startswith("blocks.") and p.dim() == 2}
    assert in_muon == expected and len(expected) == 4 * model.config.n_layer
    assert not in_muon & in_adamw and in_muon | in_adamw == {id(p) for p in model.parameters()}
    assert id(model.token_embedding.weight) in in_adamw  # a matriz amarrada (entrada e saída) fica no AdamW
    (only,) = NB["make_optimizers"](model, {**cfg, "optimizer": "adamw"}, "cpu")
    assert {id(p) for g in only.param_groups for p in g["params"]} == {id(p) for p in model.parameters()}


@pytest.mark.parametrize("shape", [(2, 8, 32), (5, 64), (1, 3, 7, 16)])
def test_manual_layernorm_matches_nn_layernorm(shape):
    torch.manual_seed(0)
    x = 3 * torch.randn(shape) + 1
    manual, library = NB["ManualLayerNorm"](shape[-1]), torch.nn.LayerNorm(shape[-1])
    with torch.no_grad():
        manual.gamma.copy_(torch.randn(shape[-1]))
        manual.beta.copy_(torch.randn(shape[-1]))
        library.weight.copy_(manual.gamma)
        library.bias.copy_(manual.beta)
    torch.testing.assert_close(manual(x), library(x), atol=1e-5, rtol=1e-5)
    assert {name for name, _ in manual.named_parameters()} == {"gamma", "beta"}


def test_stream_rms_shows_how_each_variant_treats_the_residual_stream():
    torch.manual_seed(0)
    xb = torch.randint(65, (4, 8))
    sizes = {}
    for norm in ("post", "pre"):
        torch.manual_seed(1)
        sizes[norm] = NB["stream_rms"](NB["BlocksLanguageModel"](65, 32, 4, 8, 4, norm=norm), xb)
    assert all(len(s) == 5 for s in sizes.values())  # a entrada e depois de cada um dos 4 blocos
    assert all(abs(s - 1) < 0.01 for s in sizes["post"][1:])  # a pós-norm normaliza a estrada a cada bloco
    assert sizes["pre"][-1] > sizes["pre"][0]  # a pré-norm deixa a estrada crescer
    gpt = small_gpt()
    assert len(NB["stream_rms"](gpt, torch.randint(65, (2, 16)))) == gpt.config.n_layer + 1


def test_weight_on_self_is_one_share_per_block_and_head():
    torch.manual_seed(0)
    model = NB["BlocksLanguageModel"](65, 32, 4, 8, 3)
    table = NB["weight_on_self"](model, torch.randint(65, (6, 8)))
    assert len(table) == 3 and all(len(row) == 4 for row in table)
    assert all(0.0 <= w <= 1.0 for row in table for w in row)
    one = NB["weight_on_self"](model, torch.randint(65, (6, 1)))  # janela de 1: só dá para olhar para si mesma
    assert all(w == pytest.approx(1.0) for row in one for w in row)


def test_train_gpt_takes_exactly_the_shared_train_step():
    """train_gpt e um laço à mão com make_train_step (o passo que o benchmark da GPU cronometra) dão o mesmo modelo."""
    cfg = {**NB["CONFIGS"]["cpu"], "steps": 6, "warmup": 2, "eval_interval": 6, "eval_iters": 1, "eval_batch_size": 2,
           "batch_size": 2, "block_size": 16}
    data = torch.randint(65, (500,))
    trained = small_gpt(n_layer=1)
    NB["train_gpt"](trained, data, data, cfg, "cpu", log=False)
    by_hand = small_gpt(n_layer=1).train()
    step = NB["make_train_step"](by_hand, cfg, "cpu")
    generator = torch.Generator().manual_seed(1337)
    for i in range(cfg["steps"]):
        xb, yb = NB["get_batch"](data, cfg["batch_size"], cfg["block_size"], generator=generator)
        step(xb, yb, NB["lr_at"](i, cfg) / cfg["lr"])
    for (name, a), b in zip(trained.state_dict().items(), by_hand.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_autocast_dtype_reads_the_config_key():
    cfg = {"amp": True}
    assert NB["autocast_dtype"](cfg, "cpu") is None and NB["autocast_dtype"]({"amp": False}, "cuda") is None
    assert NB["autocast_dtype"]({**cfg, "amp_dtype": "float16"}, "cuda") is torch.float16
    assert NB["autocast_dtype"]({**cfg, "amp_dtype": "bfloat16"}, "cuda") is torch.bfloat16
