"""A descrição da figura da arquitetura: as tabelas que `scripts/figures.py` transforma em elementos e desenha.

Mudar um número, um texto ou uma cor aqui muda a impressão digital da figura: `make figures` redesenha, e
`tests/test_figures.py` acusa os capítulos que mostram a figura velha.
"""
import re

# A paleta da série, a mesma da célula `# compartilhado: cores` do capítulo 01 (um teste confere).
COLORS = {"tokens": "#2563EB", "attention": "#D97706", "feedforward": "#059669", "residual": "#7C3AED",
          "output": "#DC2626", "encoder": "#9CA3AF", "train": "#475569", "val": "#DB2777"}
# Cada capítulo: título, as partes que ele constrói (em destaque; o resto fica apagado), o texto alternativo e a
# legenda da figura. O 06 mostra o Transformer completo, todo em cores; o 07, o GPT do 05 com outro vocabulário.
CHAPTERS = {
    "01": ("Texto e tokenizer", {"tokens"}, "as entradas (tokens)",
           "o texto vira tokens (ids inteiros), a entrada do modelo. No GPT, as “saídas deslocadas à direita” são o "
           "próprio texto que entra no modelo, as entradas `x` de `get_batch`; os alvos `y` são esse mesmo texto, "
           "uma posição adiante."),
    "02": ("Gerador bigrama", {"embedding", "output", "bigram"}, "o embedding e a saída linear + softmax (o bigrama)",
           "o modelo bigrama liga o embedding direto à saída, sem nada no meio: cada token olha só para si mesmo. "
           "A caixa “Linear” não é uma camada a mais: a tabela 65×65 faz os dois papéis, e a linha de cada token já é "
           "a lista de logits (o mesmo que um one-hot seguido de uma camada linear)."),
    "03": ("Self-attention", {"attention", "posenc"}, "a multi-head attention mascarada e a codificação posicional",
           "uma cabeça de self-attention mascarada (cada token só olha para o passado), mais a posição de cada token."),
    "04": ("Multi-head attention", {"attention", "feedforward"}, "a multi-head attention mascarada e o feed-forward",
           "várias cabeças de atenção em paralelo e a rede feed-forward, que processa cada posição."),
    "05": ("O decoder (GPT)", {"attention", "feedforward", "addnorm", "stack", "output"},
           "o bloco do decoder inteiro, empilhado N vezes, e a saída linear + softmax",
           "o bloco completo: soma & norma (conexão residual + LayerNorm), N blocos empilhados e a saída "
           "linear + softmax. Juntando tudo, o GPT."),
    "06": ("GPTs de verdade", None, "o Transformer completo, com o encoder",
           "o Transformer completo do artigo, com o encoder e a atenção cruzada que o GPT deixa de fora."),
    "07": ("GPT em português", {"tokens", "embedding", "output"},
           "a entrada, o embedding e a saída, que crescem com o vocabulário do português",
           "o mesmo GPT do capítulo 05, sem mudar uma linha; o que muda é o texto que entra e o vocabulário, agora "
           "com os acentos do português, e com ele a tabela de embeddings e a camada de saída, que têm uma linha por "
           "token."),
}
STYLE = {
    "canvas": [120, 106.5], "width": 5.0, "dpi": 150,  # unidades do desenho; 5 polegadas a 150 dpi: 750 px
    "png_colors": 96,  # PNG com paleta: arquivos pequenos sem perder nitidez
    "font": {"label": 7.4, "sub": 6.2, "title": 8.4, "legend": 6.6, "stack": 10.0},
    "light": 0.86, "text_dark": 0.2,  # preenchimento: a cor forte com branco; texto: com preto (contraste legível)
    "flow": "#374151", "ink": "#1F2937", "colors": COLORS,  # e, por estado, o que não está em cores:
    "dim": {"fill": "#F9FAFB", "edge": "#D1D5DB", "text": "#9CA3AF", "flow": "#D1D5DB"},
    "dropped": {"fill": "#FFFFFF", "edge": COLORS["encoder"], "text": "#8B95A5", "flow": COLORS["encoder"]},
    "dim_dropped": {"fill": "#FFFFFF", "edge": "#D1D5DB", "text": "#A8AFBB", "flow": "#D1D5DB"},
}
FORK_Y = 23.0  # onde a entrada do bloco se divide em Q, K e V
# Cada coluna: (centro, largura das caixas, lado de fora: -1 à esquerda, topo do bloco empilhado N vezes, linhas).
# Cada linha, de baixo para cima: (chave, parte, componente, y, altura, rótulo, partes da seta que entra vindo de
# baixo, opções: largura própria, "pill", sub-rótulo, "dropped" (o GPT não usa) e "res", a residual que chega à
# caixa, pelo ponto de onde sai (em larguras a partir do centro, y)). "plus" é o ⊕ da codificação posicional, com a
# onda e o rótulo do lado de fora; a seta para "mha" se divide em Q, K e V. No encoder, tudo é da parte "encoder".
COLUMNS = {
    "enc": (31, 30, -1, 50.0, [
        ("in", "tokens", "tokens", 0.5, 5.5, "Entradas", None, {"w": 24, "pill": True}),
        ("emb", "embedding", "tokens", 9, 5.5, "Embedding de entrada", {"tokens", "embedding"}, {}),
        ("plus", "posenc", "tokens", 16.7, 3.6, "Codificação\nposicional", {"embedding", "posenc"}, {}),
        ("mha", "attention", "attention", 24.5, 5.5, "Multi-head attention", {"posenc", "attention"}, {}),
        ("an1", "addnorm", "residual", 32.0, 3.5, "Soma & norma", {"addnorm"}, {"res": (0.3, FORK_Y)}),
        ("ff", "feedforward", "feedforward", 37.5, 5.0, "Feed-forward", {"feedforward"}, {}),
        ("an2", "addnorm", "residual", 44.5, 3.5, "Soma & norma", {"addnorm"}, {"res": (0, 36.5)})]),
    "dec": (80, 32, 1, 80.0, [
        ("in", "tokens", "tokens", 0, 6.5, "Saídas (deslocadas à direita)", None,
         {"w": 42, "pill": True, "sub": "texto → tokens (ids)"}),
        ("emb", "embedding", "tokens", 9, 5.5, "Embedding dos tokens", {"tokens", "embedding"}, {}),
        ("plus", "posenc", "tokens", 16.7, 3.6, "Codificação\nposicional", {"embedding", "posenc"}, {}),
        ("mha", "attention", "attention", 24.5, 7.5, "Multi-head attention\nmascarada", {"posenc", "attention"}, {}),
        ("an1", "addnorm", "residual", 35.0, 4.0, "Soma & norma", {"addnorm"}, {"res": (0.3, FORK_Y)}),
        # A atenção cruzada: Q vem de baixo, K e V do encoder. As setas do meio seguem no caminho do GPT.
        ("cross", "cross", "attention", 49.0, 7.0, "Multi-head attention\ncruzada", {"addnorm"}, {"dropped": True}),
        ("an_c", "cross", "residual", 58.5, 4.0, "Soma & norma", {"addnorm"}, {"dropped": True, "res": (0, 42.5)}),
        ("ff", "feedforward", "feedforward", 65.5, 5.5, "Feed-forward", {"feedforward"}, {}),
        ("an2", "addnorm", "residual", 73.5, 4.0, "Soma & norma", {"addnorm"}, {"res": (0, 64.0)}),
        ("linear", "output", "output", 83.5, 5.0, "Linear", {"addnorm", "output"}, {}),
        ("softmax", "output", "output", 91.0, 5.0, "Softmax", {"output"}, {}),
        ("probs", "output", "output", 98.5, 5.5, "Probabilidades de saída", {"output"}, {"w": 36, "pill": True})]),
}


def _el(kind, id, parts, component, dropped=False, **fields):
    """Um elemento do desenho. Textos: x, y, text e, se não forem os de sempre, size, ha e rotation."""
    return {"kind": kind, "id": id, "parts": sorted(parts), "component": component, "dropped": dropped, **fields}


EXTRAS = {  # fora das colunas: em todas as figuras ("all") ou só nas de um capítulo
    "all": [_el("line", "enc_to_cross", {"encoder", "cross"}, "flow", True,
                points=[[31, 50.0], [31, 52.5], [64, 52.5]], arrow=True),
            _el("text", "kv_label", {"cross"}, "attention", True, x=56.5, y=54.1, text="K, V", size="sub")],
    "02": [_el("line", "bigram_path", {"bigram"}, "tokens", points=[[96, 11.75], [114.5, 11.75], [114.5, 86.0],
                                                                      [96, 86.0]], arrow=True),
           _el("text", "bigram_label", {"bigram"}, "tokens", x=116.7, y=49.0, size="sub", rotation=90,
               text="bigrama: embedding direto para os logits")],
    "03": [_el("text", "one_head", {"attention"}, "attention", x=101.5, y=28.25, size="sub", ha="left",
               text="uma cabeça,\npor enquanto")],  # o 03 constrói uma cabeça só; as várias vêm no 04
}
# A legenda, no alto à esquerda, abaixo do título: (distância da linha de cima, estado das amostras, componentes das
# amostras ou "built": os que estão em cores na figura, texto). Na figura geral, também a chave de cores da série.
_OTHERS = [(4.6, "dim", ["encoder"], "outros capítulos"), (4.6, "dim_dropped", ["encoder"], "o GPT não usa")]
LEGENDS = {
    None: [(4.2, None, [], "(“Attention Is All You Need”, 2017)"), (5.8, "on", "built", "o GPT usa"),
           (4.6, "dropped", ["encoder"], "o GPT não usa"), (6.1, None, [], "Uma cor por componente, em toda a série:"),
           (4.6, "on", ["tokens"], "tokens, embeddings e posições"),
           (4.2, "on", ["attention"], "atenção"), (4.2, "on", ["feedforward"], "feed-forward"),
           (4.2, "on", ["residual"], "soma & norma (residual + LayerNorm)"),
           (4.2, "on", ["output"], "saída: linear e softmax")],
    "06": [(10.0, "on", "built", "o Transformer completo"),
           (4.6, "extra", ["attention"], "tracejado: o que o GPT não usa")],
    "07": [(10.0, "on", "built", "o que muda neste capítulo"), *_OTHERS],
    **{ch: [(10.0, "on", "built", "construído neste capítulo"), *_OTHERS] for ch in ["01", "02", "03", "04", "05"]},
}
MARKER = "<!-- figura: arquitetura -->"
CELL = (MARKER + "\n<!-- capítulo {chapter} · sha256:{digest} · gerada por scripts/figures.py (make figures); "
        "não edite esta célula à mão -->\n\n![Arquitetura do Transformer, com destaque para {alt}]"
        "(data:image/png;base64,{png})\n\n*Onde estamos:* {caption} {key}")  # a célula da figura, em cada notebook
CELL_KEYS = {"06": "Tracejado, o que o GPT não usa.",
             None: "Em cinza, o que fica para outros capítulos; tracejado, o que o GPT não usa."}
FINGERPRINT_LINE = re.compile(r"<!-- capítulo (\d\d) · sha256:([0-9a-f]{64}) ")
PNG_KEY = "fingerprint"  # nos metadados do PNG: a impressão digital (na perda por etapa, _losses_key)
