"""Capítulo 06: os pesos do GPT-2 da biblioteca dentro do nosso GPT, as peças do Transformer completo, o código
do BART, do BERT e do gpt-oss mostrado da biblioteca instalada, e a geração com cache.

Tudo roda o código do próprio notebook (nbcode.definitions), com modelos pequenos e aleatórios, sem internet.
"""
import ast
import importlib
import string
import time

import nbformat
import pytest
import torch
import torch.nn.functional as F

from nbcode import definitions, notebook_path

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
    ours_text = nb["sample"](ours, *args, seed=3, top_k=50)  # como no capítulo
    library_text = nb["sample"](nb["LibraryModel"](hf_model).eval(), *args, seed=3, top_k=50)
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
    ours_text = nb["sample"](ours, hf_tokenizer, *args, top_k=50)
    library_text = nb["sample"](nb["LibraryModel"](hf_model).eval(), hf_tokenizer, *args, top_k=50)
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
    """A seção 5 mostra, no código da biblioteca, os embeddings de segmento e a cabeça da NSP do BERT."""
    from transformers.models.bert import modeling_bert

    config = transformers.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16)
    embeddings = modeling_bert.BertEmbeddings(config)
    assert embeddings.token_type_embeddings.num_embeddings == 2  # trecho A ou B
    assert isinstance(embeddings.LayerNorm, torch.nn.LayerNorm)
    heads = modeling_bert.BertPreTrainingHeads(config)
    assert heads.seq_relationship.out_features == 2  # a NSP: B vem depois de A, ou não
    assert nb["modeling_bert"] is modeling_bert


# --- o código da biblioteca que o capítulo mostra ------------------------------------------------------------


def shown_expressions():
    """O argumento de cada chamada show_source(...) nas células do capítulo, como texto."""
    found = []
    for cell in nbformat.read(notebook_path("06"), as_version=4).cells:
        if cell.cell_type != "code" or "show_source(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source":
                found.append(ast.get_source_segment(cell.source, node.args[0]))
    return found


SHOWN = shown_expressions()
# As classes que o capítulo põe lado a lado com as nossas, por módulo da transformers.
MAPPED = {
    "gpt2": ["GPT2Model", "GPT2LMHeadModel", "GPT2Block", "GPT2Attention", "GPT2MLP"],
    "bart": ["BartDecoderLayer", "BartAttention", "BartForConditionalGeneration"],
    "bert": ["BertEmbeddings", "BertPreTrainingHeads", "BertSelfAttention", "BertSelfOutput"],
    "gpt_oss": ["GptOssDecoderLayer", "GptOssRMSNorm", "GptOssAttention", "GptOssMLP", "GptOssTopKRouter",
                "GptOssExperts", "GptOssForCausalLM"],
}


def test_the_chapter_shows_each_model():
    for model in ("GPT2Block", "BartDecoderLayer", "BertEmbeddings", "GptOssDecoderLayer", "GptOssRMSNorm",
                  "eager_attention_forward", "GptOssTopKRouter"):
        assert any(model in expression for expression in SHOWN), f"o capítulo não mostra mais o código de {model}"


@pytest.mark.parametrize("family", MAPPED)
def test_the_mapped_classes_exist(family):
    name = f"transformers.models.{family}.modeling_{family}"
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        pytest.fail(f"A transformers {transformers.__version__} não tem o módulo {name} ({error}); o capítulo 06 "
                    "mostra o código dele (e pede a transformers 4.55 ou mais nova, a primeira com o gpt-oss).")
    missing = [cls for cls in MAPPED[family] if not hasattr(module, cls)]
    assert not missing, (f"A transformers {transformers.__version__} não tem mais {missing} em {name}: a biblioteca "
                         "tirou ou renomeou a classe, e o capítulo 06 precisa acompanhar.")


@pytest.mark.parametrize("expression", SHOWN)
def test_each_shown_source_is_found_and_printed(nb, expression, capsys):
    try:
        obj = eval(expression, nb)
    except AttributeError as error:
        pytest.fail(f"O capítulo 06 mostra `{expression}`, mas a transformers {transformers.__version__} não tem "
                    f"isso ({error}): a biblioteca tirou ou renomeou a classe, e o capítulo precisa acompanhar.")
    nb["show_source"](obj)
    printed = capsys.readouterr().out
    title = printed.splitlines()[0]
    assert title.startswith(f"# transformers {transformers.__version__}: "), title
    assert "/" not in title and "\\" not in title, "o título não deve ter caminhos locais"
    assert "def " in printed or "class " in printed


def test_old_transformers_gets_a_clear_message(nb):
    with pytest.raises(nb["FriendlyError"], match=r"4\.55\.0.*4\.54\.1.*pip install -U transformers"):
        nb["require_transformers"]("4.54.1")
    for version in ("4.55.0", "4.57.1", "5.0.0.dev0", transformers.__version__):
        nb["require_transformers"](version)


def test_requirements_ask_for_a_transformers_with_gpt_oss(nb):
    from packaging.requirements import Requirement

    lines = (notebook_path("06").parent.parent / "requirements.txt").read_text().splitlines()
    requirement = next(Requirement(line.split("#")[0]) for line in lines if line.startswith("transformers"))
    assert "4.54.1" not in requirement.specifier and nb["GPT_OSS_SINCE"] in requirement.specifier


# --- BART: o decoder do Transformer completo, em pós-norm ----------------------------------------------------


def test_bart_decoder_layer_is_our_decoder_block_in_post_norm(nb, small_config):
    from transformers.models.bart import modeling_bart

    source = nb["textwrap"].dedent(nb["inspect"].getsource(modeling_bart.BartDecoderLayer.forward))
    source = ast.unparse(ast.parse(source))  # sem comentários: só as chamadas, na ordem
    order = [source.index(call) for call in ("self.self_attn(", "self.self_attn_layer_norm(",
                                             "self.encoder_attn(", "self.encoder_attn_layer_norm(",
                                             "self.fc1(", "self.final_layer_norm(")]
    assert order == sorted(order), "a ordem das subcamadas do BartDecoderLayer mudou"
    torch.manual_seed(0)
    width = small_config.n_embd
    config = transformers.BartConfig(vocab_size=20, d_model=width, encoder_layers=1, decoder_layers=1,
                                     encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=4 * width,
                                     decoder_ffn_dim=4 * width, max_position_embeddings=16)
    assert config.activation_function == "gelu"  # a GELU exata, não a aproximada do GPT-2
    layer = transformers.BartModel(config).decoder.layers[0].eval()
    assert isinstance(layer, modeling_bart.BartDecoderLayer)
    x, memory = 3 * torch.randn(2, 5, small_config.n_embd), torch.randn(2, 9, small_config.n_embd)
    with torch.no_grad():
        out = layer(x, encoder_hidden_states=memory)
    out = out[0] if isinstance(out, tuple) else out
    assert out.shape == x.shape
    assert torch.allclose(out.mean(-1), torch.zeros(2, 5), atol=1e-4)  # a LayerNorm é a última conta
    assert torch.allclose(out.std(-1, unbiased=False), torch.ones(2, 5), atol=1e-3)
    ours = nb["DecoderBlock"](small_config).eval()
    assert not torch.allclose(ours(x, memory).std(-1, unbiased=False), torch.ones(2, 5), atol=1e-2)  # pré-norm


def small_bart(seed=0, **overrides):
    """Um BartForConditionalGeneration pequeno e aleatório, com desvio-padrão 0,2, como o do capítulo."""
    torch.manual_seed(seed)
    sizes = {"vocab_size": 50, "d_model": 32, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
             "decoder_attention_heads": 4, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128,
             "max_position_embeddings": 16, "init_std": 0.2}
    return transformers.BartForConditionalGeneration(transformers.BartConfig(**{**sizes, **overrides})).eval()


@pytest.mark.parametrize(
    "overrides",
    [{}, {"encoder_layers": 1, "decoder_layers": 1, "d_model": 48, "encoder_ffn_dim": 192, "decoder_ffn_dim": 192,
          "encoder_attention_heads": 3, "decoder_attention_heads": 3}],
    ids=["2-camadas", "outras-dimensoes"],
)
def test_post_norm_transformer_reproduces_bart(nb, overrides):
    hf_model = small_bart(**overrides)
    ours = nb["transformer_from_bart"](hf_model)
    assert isinstance(ours, nb["Transformer"]) and not ours.training
    src, tgt = random_ids(50, (2, 16)), random_ids(50, (2, 9), seed=2)
    with torch.no_grad():
        expected = hf_model(input_ids=src, decoder_input_ids=tgt).logits
        logits, _ = ours(src, tgt)
    assert logits.shape == expected.shape == (2, 9, 50)
    assert (logits - expected).abs().max().item() <= nb["logits_tolerance"](expected)
    unused = 2 * nb["BART_POSITION_OFFSET"] * hf_model.config.d_model  # as linhas extras das tabelas de posição
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf_model.parameters()) - unused


def test_the_bart_check_catches_the_approximate_gelu(nb):
    hf_model = small_bart()
    ours = nb["transformer_from_bart"](hf_model)
    for block in [*ours.encoder, *ours.decoder]:
        block.ffwd.gelu = torch.nn.GELU(approximate="tanh")
    src, tgt = random_ids(50, (2, 16)), random_ids(50, (2, 9), seed=2)
    with torch.no_grad():
        expected = hf_model(input_ids=src, decoder_input_ids=tgt).logits
        diff = (ours(src, tgt)[0] - expected).abs().max().item()
    assert diff > 5 * nb["logits_tolerance"](expected)


@pytest.mark.parametrize(
    "option",
    [{"decoder_layers": 1}, {"activation_function": "relu"}, {"scale_embedding": True}, {"encoder_ffn_dim": 100},
     {"decoder_attention_heads": 2}],
    ids=lambda o: next(iter(o)),
)
def test_unsupported_bart_options_are_refused(nb, option):
    with pytest.raises(nb["ConversionError"], match=next(iter(option))):
        nb["transformer_from_bart"](small_bart(**option))


def test_bart_with_a_logits_bias_is_refused(nb):
    hf_model = small_bart()
    hf_model.final_logits_bias += 1.0
    with pytest.raises(nb["ConversionError"], match="final_logits_bias"):
        nb["transformer_from_bart"](hf_model)


# --- gpt-oss ---------------------------------------------------------------------------------------------


def tiny_gpt_oss(nb, seed=0, **overrides):
    torch.manual_seed(seed)
    config = transformers.GptOssConfig(vocab_size=65, **{**nb["TINY_GPT_OSS"], **overrides})
    return transformers.GptOssForCausalLM(config).eval()


def test_tiny_gpt_oss_runs_offline_and_quietly(nb, capfd):
    model = tiny_gpt_oss(nb)
    with torch.no_grad():
        out = model(random_ids(65, (2, 16)), output_attentions=True)
    assert out.logits.shape == (2, 16, 65)
    err = capfd.readouterr().err
    assert not err.strip(), f"o gpt-oss minúsculo não deveria avisar nada:\n{err}"


def test_gpt_oss_attention_is_what_the_chapter_says(nb):
    model = tiny_gpt_oss(nb)
    config = model.config
    assert config.layer_types == ["sliding_attention", "full_attention"]
    attn = model.model.layers[0].self_attn
    assert attn.k_proj.out_features == attn.v_proj.out_features == config.num_key_value_heads * config.head_dim
    assert attn.q_proj.out_features == config.num_attention_heads * config.head_dim
    assert attn.sinks.shape == (config.num_attention_heads,)
    T, window = 16, config.sliding_window
    with torch.no_grad():
        weights = model(random_ids(65, (1, T)), output_attentions=True).attentions
    visible = torch.tril(torch.ones(T, T, dtype=torch.bool))
    band = visible & ~torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-window)
    for layer, allowed in ((0, band), (1, visible)):
        seen = weights[layer][0] > 0  # (cabeças, T, T)
        assert torch.equal(seen, allowed.expand_as(seen)), f"camada {layer}: máscara diferente da descrita"
        sums = weights[layer].sum(dim=-1)
        assert (sums < 1).all() and (sums > 0).all()  # o sink fica com o resto


def test_gpt_oss_experts_and_the_clamped_swiglu(nb):
    model = tiny_gpt_oss(nb)
    mlp = model.model.layers[0].mlp
    assert mlp.router.top_k == 2 and mlp.experts.num_experts == 4
    experts = mlp.experts
    if not hasattr(experts, "_apply_gate"):
        pytest.skip("nesta versão da transformers, a SwiGLU fica dentro de GptOssExperts.forward")
    gate_up = 20 * torch.randn(8, 2 * experts.intermediate_size)
    gate = gate_up[..., ::2].clamp(max=7.0)
    up = gate_up[..., 1::2].clamp(-7.0, 7.0)
    expected = (up + 1) * gate * torch.sigmoid(1.702 * gate)  # a fórmula da tabela do capítulo
    assert (experts.alpha, experts.limit) == (1.702, 7.0)
    assert torch.allclose(experts._apply_gate(gate_up), expected, atol=1e-5)


def test_rmsnorm_is_layernorm_without_the_mean(nb):
    from transformers.models.gpt_oss.modeling_gpt_oss import GptOssRMSNorm

    norm = GptOssRMSNorm(16, eps=1e-5)
    x = torch.randn(3, 16)
    assert torch.allclose(norm(x), x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5), atol=1e-6)
    centered = x - x.mean(-1, keepdim=True)
    assert torch.allclose(norm(centered), F.layer_norm(centered, (16,), eps=1e-5), atol=1e-5)
    assert not torch.allclose(norm(x + 3), F.layer_norm(x + 3, (16,), eps=1e-5), atol=1e-2)


def test_gpt_oss_parameters_match_the_model_card(nb):
    """O model card do gpt-oss: 116,83 e 20,91 bilhões de parâmetros; 5,13 e 3,61 bilhões ativos por token."""
    card = {"gpt-oss-120b": (116.83, 5.13), "gpt-oss-20b": (20.91, 3.61)}
    for name, sizes in nb["GPT_OSS_SIZES"].items():
        with torch.device("meta"):
            total, active = nb["moe_params"](transformers.GptOssForCausalLM(transformers.GptOssConfig(**sizes)))
        assert (round(total / 1e9, 2), round(active / 1e9, 2)) == card[name], name


def test_moe_active_parameters_by_hand(nb):
    model = tiny_gpt_oss(nb)
    c = model.config
    per_expert = c.hidden_size * 2 * c.intermediate_size + 2 * c.intermediate_size + c.intermediate_size * c.hidden_size
    per_expert += c.hidden_size
    idle = c.num_hidden_layers * (c.num_local_experts - c.num_experts_per_tok) * per_expert
    total, active = nb["moe_params"](model)
    assert total == sum(p.numel() for p in model.parameters())
    assert active == total - idle - c.vocab_size * c.hidden_size


# --- a geração com cache (seção 4) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_gpt(nb):
    torch.manual_seed(0)
    return nb["GPT"](nb["GPTConfig"](vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=32)).eval()


@pytest.mark.parametrize("prompt_len", [1, 5, 31, 32])
@pytest.mark.parametrize("batch", [1, 3])
def test_cached_logits_equal_the_full_forward(nb, cache_gpt, prompt_len, batch):
    seq = random_ids(65, (batch, 32), seed=prompt_len)
    full, _ = cache_gpt(seq)
    cache = {}
    steps = [nb["forward_cached"](cache_gpt, seq[:, :prompt_len], cache, 0)]
    for t in range(prompt_len, 32):
        steps.append(nb["forward_cached"](cache_gpt, seq[:, t : t + 1], cache, t))
        assert cache[0][0].shape == (batch, 4, t + 1, 8)  # uma posição a mais por passo
    assert len(cache) == cache_gpt.config.n_layer
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < 1e-5


@pytest.mark.parametrize(
    "prompt_len, new_tokens, controls",
    [(3, 80, {"top_k": 50}), (1, 31, {}), (40, 10, {"temperature": 0.8, "top_p": 0.9}), (32, 5, {"top_k": 1})],
    ids=["passa-do-block_size", "enche-o-contexto", "prompt-maior-que-o-contexto", "gulosa"],
)
def test_cached_generation_equals_generate(nb, cache_gpt, prompt_len, new_tokens, controls):
    prompt = random_ids(65, (2, prompt_len), seed=7)
    outputs = []
    for generate in (nb["generate"], nb["generate_cached"]):
        generator = torch.Generator().manual_seed(11)
        outputs.append(generate(cache_gpt, prompt, new_tokens, 32, generator=generator, **controls))
    assert outputs[0].shape == (2, prompt_len + new_tokens)
    assert torch.equal(outputs[0], outputs[1])


def test_cached_generation_with_gpt2_weights_equals_the_library(nb):
    hf_model = small_gpt2(nb)
    ours = nb["gpt_from_gpt2"](hf_model)
    prompt = random_ids(65, (1, 4))
    outputs = []
    for model, generate in ((nb["LibraryModel"](hf_model).eval(), nb["generate"]), (ours, nb["generate_cached"])):
        outputs.append(generate(model, prompt, 70, 64, generator=torch.Generator().manual_seed(0), top_k=50))
    assert torch.equal(outputs[0], outputs[1])


def test_forward_cached_refuses_what_it_cannot_do(nb, cache_gpt):
    cache = {}
    nb["forward_cached"](cache_gpt, random_ids(65, (1, 30)), cache, 0)
    with pytest.raises(ValueError, match="start=29"):
        nb["forward_cached"](cache_gpt, random_ids(65, (1, 1)), cache, 29)
    with pytest.raises(ValueError, match="block_size"):
        nb["forward_cached"](cache_gpt, random_ids(65, (1, 3)), cache, 30)


def test_tokens_per_second(nb, cache_gpt):
    rate, text = nb["tokens_per_second"](nb["generate_cached"], cache_gpt, 16, new_tokens=4, repeats=1)
    assert rate > 0 and len(text) == 16
