"""Capítulo 06: os pesos do GPT-2 da biblioteca dentro do nosso GPT, e as peças do Transformer completo.

Tudo roda o código do próprio notebook (nbcode.definitions), com modelos pequenos e aleatórios, sem internet.
"""
import string
import time

import pytest
import torch

from nbcode import definitions

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def nb():
    return definitions("06")


def small_gpt2(nb, vocab_size=65, seed=0, **overrides):
    """Um GPT2LMHeadModel pequeno e aleatório, como o do modo offline do capítulo (ou com outras dimensões)."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=vocab_size, **{**nb["SMALL_GPT2"], **overrides})
    return transformers.GPT2LMHeadModel(config).eval()


def random_ids(vocab_size, shape, seed=1):
    return torch.randint(vocab_size, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "sizes",
    [{}, {"n_layer": 3, "n_head": 2, "n_embd": 48, "n_positions": 32}],
    ids=["config-do-capitulo", "outras-dimensoes"],
)
def test_gpt2_weights_give_the_same_logits(nb, sizes):
    vocab_size = 65 if not sizes else 101
    hf_model = small_gpt2(nb, vocab_size, **sizes)
    ours = nb["gpt_from_gpt2"](hf_model)
    assert isinstance(ours, nb["GPT"]) and not ours.training
    assert ours.num_params() == sum(p.numel() for p in hf_model.parameters())
    T = hf_model.config.n_positions
    our_logits, hf_logits, max_diff = nb["compare_logits"](ours, hf_model, random_ids(vocab_size, (3, T)))
    assert our_logits.shape == hf_logits.shape == (3, T, vocab_size)
    assert max_diff <= nb["logits_tolerance"](hf_logits), f"logits diferem em {max_diff:.2e}"
    assert max_diff < 1e-5


def test_eager_attention_gives_the_same_logits_too(nb):
    """A biblioteca escolhe a implementação da atenção pela configuração; a conta por extenso também bate."""
    hf_model = small_gpt2(nb)
    if not hasattr(hf_model, "set_attn_implementation"):
        pytest.skip("esta versão da transformers não troca a implementação da atenção depois de criar o modelo")
    hf_model.set_attn_implementation("eager")
    ours = nb["gpt_from_gpt2"](hf_model)
    _, hf_logits, max_diff = nb["compare_logits"](ours, hf_model, random_ids(65, (2, 64)))
    assert max_diff <= nb["logits_tolerance"](hf_logits)


def test_same_text_from_both_models(nb):
    hf_model = small_gpt2(nb)
    ours = nb["gpt_from_gpt2"](hf_model)
    tokenizer = nb["CharTokenizer"](string.printable[:65])
    args = (tokenizer, "abc", 12, ours.config.block_size, "cpu")
    ours_text = nb["sample"](ours, *args, seed=3)
    library_text = nb["sample"](nb["LibraryModel"](hf_model).eval(), *args, seed=3)
    assert ours_text == library_text and len(ours_text) == 15


def test_forgotten_transpose_is_caught(nb, monkeypatch):
    hf_model = small_gpt2(nb)
    monkeypatch.setitem(nb, "is_transposed", lambda layer: False)
    with pytest.raises(nb["ConversionError"], match="c_attn"):
        nb["gpt_from_gpt2"](hf_model)


def test_every_gpt2_linear_is_transposed(nb):
    """As camadas da biblioteca que guardam o peso como (entrada, saída) são exatamente as Conv1D."""
    hf_model = small_gpt2(nb)
    ours = nb["GPT"](nb["config_from_gpt2"](hf_model.config))
    for _, our_layer, hf_name, hf_layer in nb["layer_pairs"](ours, hf_model):
        if nb["is_transposed"](hf_layer):
            assert hf_layer.weight.shape == our_layer.weight.T.shape, hf_name
        else:
            assert isinstance(hf_layer, (torch.nn.Embedding, torch.nn.LayerNorm, torch.nn.Linear)), hf_name
    n_layers = len(nb["layer_pairs"](ours, hf_model))
    assert n_layers == 2 + 6 * hf_model.config.n_layer + 1


@pytest.mark.parametrize(
    "option",
    [{"activation_function": "relu"}, {"layer_norm_epsilon": 1e-6}, {"n_inner": 100},
     {"scale_attn_by_inverse_layer_idx": True}],
    ids=lambda o: next(iter(o)),
)
def test_unsupported_options_are_refused(nb, option):
    config = transformers.GPT2Config(vocab_size=65, **{**nb["SMALL_GPT2"], **option})
    with pytest.raises(nb["ConversionError"]):
        nb["config_from_gpt2"](config)


def test_untied_lm_head_is_refused(nb):
    hf_model = small_gpt2(nb)
    hf_model.lm_head.weight = torch.nn.Parameter(hf_model.lm_head.weight.detach() + 1.0)
    with pytest.raises(nb["ConversionError"], match="amarrado"):
        nb["gpt_from_gpt2"](hf_model)


def test_offline_mode_is_fast_and_small(nb, monkeypatch):
    monkeypatch.setenv("IMPGPT_OFFLINE", "1")
    start = time.perf_counter()
    mode, reason = nb["choose_mode"]()
    assert mode == "offline" and "IMPGPT_OFFLINE" in reason
    hf_model, hf_tokenizer, mode = nb["load_reference_gpt2"](mode, 65)
    assert mode == "offline" and hf_tokenizer is None and not hf_model.training
    assert hf_model.config.vocab_size == 65 and hf_model.config.n_layer == 2
    assert time.perf_counter() - start < 10


def local_gpt2_checkpoint(nb, folder):
    """Uma pasta no formato de um checkpoint do Hub (pesos + tokenizer), para o modo online rodar sem internet.

    O tokenizer é o BPE de bytes do GPT-2 sem nenhuma fusão (256 tokens, um por byte): o mesmo tipo de objeto
    que o `AutoTokenizer` devolve para o `gpt2`, só que pequeno.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    byte_symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    bpe = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(byte_symbols)}, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    transformers.PreTrainedTokenizerFast(tokenizer_object=bpe).save_pretrained(folder)
    small_gpt2(nb, vocab_size=len(byte_symbols), seed=3).save_pretrained(folder)
    return str(folder)


def test_online_mode_end_to_end(nb, tmp_path, monkeypatch):
    """O caminho do modo online do capítulo (from_pretrained, tokenizer da biblioteca, geração com a nossa classe),
    com um checkpoint local no lugar do `gpt2` do Hub."""
    monkeypatch.setitem(nb, "GPT2_CHECKPOINT", local_gpt2_checkpoint(nb, tmp_path))
    hf_model, hf_tokenizer, mode = nb["load_reference_gpt2"]("online", 65)
    assert mode == "online" and hf_tokenizer is not None and not hf_model.training
    ours = nb["gpt_from_gpt2"](hf_model)
    idx = random_ids(hf_model.config.vocab_size, (2, 16))
    with torch.no_grad():
        diff = (ours(idx)[0] - hf_model(idx).logits).abs().max().item()
    assert diff < 1e-4
    prompt = "Hello, I'm a language model,"
    args = (prompt, 20, ours.config.block_size, "cpu")
    ours_text = nb["sample"](ours, hf_tokenizer, *args)
    library_text = nb["sample"](nb["LibraryModel"](hf_model).eval(), hf_tokenizer, *args)
    assert ours_text.startswith(prompt) and len(ours_text) > len(prompt)
    assert ours_text == library_text


def test_failed_download_falls_back_to_offline(nb, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(nb, "GPT2_CHECKPOINT", str(tmp_path / "nao-existe"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nada de rede: o "download" falha na hora
    hf_model, hf_tokenizer, mode = nb["load_reference_gpt2"]("online", 65)
    assert mode == "offline" and hf_tokenizer is None and hf_model.config.vocab_size == 65
    assert "seguimos no modo offline" in capsys.readouterr().out


def test_no_network_means_offline(nb, monkeypatch):
    monkeypatch.delenv("IMPGPT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    requests = nb["requests"]

    def no_network(*args, **kwargs):
        raise requests.ConnectionError("sem rede")

    monkeypatch.setattr(requests, "head", no_network)
    mode, reason = nb["choose_mode"]()
    assert mode == "offline" and "huggingface.co" in reason


def test_gpt2_sizes(nb):
    assert nb["count_params"](**nb["GPT_SIZES"]["GPT-2 small"]) == 124_439_808


# --- o Transformer completo (seção 1) ---------------------------------------------------------------------


@pytest.fixture
def small_config(nb):
    return nb["GPTConfig"](vocab_size=20, block_size=16, n_layer=2, n_head=4, n_embd=32)


def test_self_attention_without_mask_differs_only_before_the_end(nb, small_config):
    torch.manual_seed(0)
    causal = nb["CausalSelfAttention"](small_config)
    full = nb["SelfAttention"](small_config)
    full.load_state_dict(causal.state_dict())
    x = torch.randn(2, 7, small_config.n_embd)
    a, b = causal(x), full(x)
    assert torch.allclose(a[:, -1], b[:, -1], atol=1e-6)
    assert not torch.allclose(a[:, :-1], b[:, :-1], atol=1e-3)


def test_encoder_decoder_visibility(nb, small_config):
    torch.manual_seed(0)
    model = nb["Transformer"](small_config).eval()
    src, tgt = random_ids(20, (2, 9)), random_ids(20, (2, 5), seed=2)
    logits, loss = model(src, tgt, tgt)
    assert logits.shape == (2, 5, 20) and loss.ndim == 0
    tgt2 = tgt.clone()
    tgt2[:, -1] = (tgt2[:, -1] + 1) % 20
    assert torch.allclose(model(src, tgt2)[0][:, :-1], logits[:, :-1], atol=1e-6)  # decoder causal
    src2 = src.clone()
    src2[:, -1] = (src2[:, -1] + 1) % 20
    changed = (model(src2, tgt)[0] - logits).abs().amax(dim=-1)
    assert (changed > 1e-6).all()  # a atenção cruzada vê a origem inteira
    weights = model.decoder[-1].cross.weights
    assert weights.shape == (2, small_config.n_head, 5, 9)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, small_config.n_head, 5), atol=1e-5)


def test_reversal_batch_and_translate(nb, small_config):
    data = torch.arange(100) % 19
    src, tgt_in, tgt = nb["reversal_batch"](data, 4, 6, 19, torch.Generator().manual_seed(0))
    assert torch.equal(tgt, src.flip(1))
    assert (tgt_in[:, 0] == 19).all() and torch.equal(tgt_in[:, 1:], tgt[:, :-1])
    torch.manual_seed(0)
    model = nb["Transformer"](small_config)
    losses = nb["train_seq2seq"](model, data, 3, 4, 6, 19, 1e-3, "cpu")
    assert len(losses) == 3
    out = nb["translate"](model, src, 19)
    assert out.shape == src.shape and out.dtype == torch.long


def test_influence_causal_vs_bidirectional(nb, small_config):
    torch.manual_seed(0)
    idx = random_ids(20, (1, 8))
    gpt = nb["GPT"](small_config).eval()
    encoder = nb["EncoderOnly"](small_config).eval()
    causal = nb["influence"](lambda x: gpt(x)[0], idx, 20) > 1e-6
    full = nb["influence"](lambda x: encoder(x)[0], idx, 20) > 1e-6
    assert torch.equal(causal, torch.tril(torch.ones(8, 8, dtype=torch.bool)))
    assert full.all()


def test_mask_tokens(nb):
    idx = random_ids(20, (4, 500))
    inputs, targets = nb["mask_tokens"](idx, 20, torch.Generator().manual_seed(0))
    hidden = inputs == 20
    assert 0.1 < hidden.float().mean() < 0.2
    assert torch.equal(targets[hidden], idx[hidden]) and (targets[~hidden] == -100).all()
    assert torch.equal(inputs[~hidden], idx[~hidden])


def test_the_check_catches_a_wrong_gelu(nb):
    """A comparação tem poder: a GELU exata, no lugar da aproximada por tanh, passa da tolerância."""
    hf_model = small_gpt2(nb)
    ours = nb["gpt_from_gpt2"](hf_model)
    for block in ours.blocks:
        block.ffwd.gelu = torch.nn.GELU()
    _, hf_logits, max_diff = nb["compare_logits"](ours, hf_model, random_ids(65, (4, 64)))
    assert max_diff > 5 * nb["logits_tolerance"](hf_logits)


def test_what_the_chapter_says_about_bert(nb):
    """A seção 4 mostra, no código da biblioteca, os embeddings de segmento e a cabeça da NSP do BERT."""
    from transformers.models.bert import modeling_bert

    config = transformers.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16)
    embeddings = modeling_bert.BertEmbeddings(config)
    assert embeddings.token_type_embeddings.num_embeddings == 2  # trecho A ou B
    assert isinstance(embeddings.LayerNorm, torch.nn.LayerNorm)
    heads = modeling_bert.BertPreTrainingHeads(config)
    assert heads.seq_relationship.out_features == 2  # a NSP: B vem depois de A, ou não
    assert nb["modeling_bert"] is modeling_bert
