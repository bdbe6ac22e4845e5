#!/usr/bin/env python3
"""Figuras da série: a arquitetura do Transformer desenhada pelo nosso código, com a parte de cada capítulo em destaque.

    python scripts/figures.py            # desenha figures/*.png e atualiza a figura no topo de cada capítulo
    python scripts/figures.py --check    # só confere: sai com erro se alguma figura ou capítulo está desatualizado
    python scripts/figures.py --no-embed # só desenha as figuras em figures/

Cada figura nasce de uma descrição declarativa (caixas, textos, setas, cores e o estado de cada parte: em destaque,
apagada ou "o GPT não usa"). A impressão digital (SHA-256) dessa descrição vai no PNG e no comentário da célula
que mostra a figura em cada notebook; o teste tests/test_figures.py recalcula as descrições e acusa figuras velhas.

A figura entra no notebook como uma imagem `data:image/png;base64,...` numa célula markdown: é a forma que aparece
no GitHub, no Jupyter e no Colab aberto só com o notebook (anexos `attachment:` não aparecem no GitHub nem no Colab,
e um link relativo para ../figures não funciona no Colab).
"""
import argparse
import base64
import hashlib
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
sys.path.insert(0, str(Path(__file__).resolve().parent))

# A paleta da série: a mesma da célula `# compartilhado: cores` do capítulo 01 (um teste confere).
COLORS = {
    "tokens": "#2563EB",  # texto, tokens e embeddings (azul)
    "attention": "#D97706",  # self-attention (âmbar)
    "feedforward": "#059669",  # feed-forward (verde)
    "residual": "#7C3AED",  # conexões residuais e LayerNorm (roxo)
    "output": "#DC2626",  # camada linear final, logits e softmax (vermelho)
    "encoder": "#9CA3AF",  # o que o GPT deixa de fora do Transformer original (cinza)
    "train": "#475569",
    "val": "#DB2777",
}

CHAPTERS = {
    "01": "Texto e tokenizer",
    "02": "Gerador bigrama",
    "03": "Self-attention",
    "04": "Multi-head attention",
    "05": "O decoder (GPT)",
    "06": "GPTs de verdade",
    "07": "GPT em português",
}
# O que cada capítulo constrói (partes do desenho em destaque; o resto fica apagado).
HIGHLIGHTS = {
    "01": {"tokens"},
    "02": {"embedding", "output", "bigram"},
    "03": {"attention", "posenc"},
    "04": {"attention", "feedforward"},
    "05": {"attention", "feedforward", "addnorm", "stack", "output"},
    "06": None,  # o Transformer completo, todo em cores (ver describe)
    "07": {"tokens", "embedding", "output"},  # o GPT do 05 inteiro; muda o vocabulário, e com ele a entrada e a saída
}
CAPTIONS = {
    "01": "o texto vira tokens (ids inteiros), a entrada do modelo. No GPT, as “saídas deslocadas à direita” "
    "são o próprio texto que entra no modelo, as entradas `x` de `get_batch`; os alvos `y` são esse mesmo texto, "
    "uma posição adiante.",
    "02": "o modelo bigrama liga o embedding direto à saída, sem nada no meio: cada token olha só para si mesmo. "
    "A caixa “Linear” não é uma camada a mais: a tabela 65×65 faz os dois papéis, e a linha de cada token já é "
    "a lista de logits (o mesmo que um one-hot seguido de uma camada linear).",
    "03": "uma cabeça de self-attention mascarada (cada token só olha para o passado), mais a posição de cada token.",
    "04": "várias cabeças de atenção em paralelo e a rede feed-forward, que processa cada posição.",
    "05": "o bloco completo: soma & norma (conexão residual + LayerNorm), N blocos empilhados e a saída "
    "linear + softmax. Juntando tudo, o GPT.",
    "06": "o Transformer completo do artigo, com o encoder e a atenção cruzada que o GPT deixa de fora.",
    "07": "o mesmo GPT do capítulo 05, sem mudar uma linha; o que muda é o texto que entra e o vocabulário, agora "
    "com os acentos do português, e com ele a tabela de embeddings e a camada de saída, que têm uma linha por token.",
}
ALT_TEXT = {
    "01": "as entradas (tokens)",
    "02": "o embedding e a saída linear + softmax (o bigrama)",
    "03": "a multi-head attention mascarada e a codificação posicional",
    "04": "a multi-head attention mascarada e o feed-forward",
    "05": "o bloco do decoder inteiro, empilhado N vezes, e a saída linear + softmax",
    "06": "o Transformer completo, com o encoder",
    "07": "a entrada, o embedding e a saída, que crescem com o vocabulário do português",
}

# O que decide a aparência entra na impressão digital: esta descrição (STYLE, elementos, legendas) e o próprio
# código que desenha (veja _drawing_code). Mudou qualquer um dos dois, a figura guardada fica desatualizada.
STYLE = {
    "canvas": [120, 106.5],  # unidades do desenho (largura, altura)
    "width": 5.0,  # polegadas: 750 px de largura a 150 dpi, o tamanho em que a figura aparece
    "dpi": 150,
    "png_colors": 96,  # PNG com paleta: arquivos pequenos sem perder nitidez
    "font": {"label": 7.4, "sub": 6.2, "title": 8.4, "legend": 6.6, "stack": 10.0},
    "light": 0.86,  # preenchimento = cor forte misturada com branco
    "text_dark": 0.2,  # texto = cor forte misturada com preto (contraste legível)
    "flow": "#374151",
    "dim": {"fill": "#F9FAFB", "edge": "#D1D5DB", "text": "#9CA3AF", "flow": "#D1D5DB"},
    "dropped": {"fill": "#FFFFFF", "edge": COLORS["encoder"], "text": "#8B95A5", "flow": COLORS["encoder"]},
    "dim_dropped": {"fill": "#FFFFFF", "edge": "#D1D5DB", "text": "#A8AFBB", "flow": "#D1D5DB"},
    "ink": "#1F2937",
    "colors": COLORS,
}

ENC_X, DEC_X = 31, 80  # centro das colunas do encoder e do decoder
MARKER = "<!-- figura: arquitetura -->"
FINGERPRINT_LINE = re.compile(r"<!-- capítulo (\d\d) · sha256:([0-9a-f]{64}) ")
PNG_KEY = "fingerprint"
LOSS_LINE = re.compile(r"perda de validação final \((.+?)\): ([0-9]+\.[0-9]+)")
STAGES = {  # etapa -> componente que ela acrescenta (e a cor da barra)
    "bigrama": "tokens",
    "uma cabeça": "attention",
    "4 cabeças": "attention",
    "4 cabeças + feed-forward": "feedforward",
    "blocos": "residual",
    "GPT": "output",
}


# ---------------------------------------------------------------------------------------------------------------
# A descrição declarativa de cada figura
# ---------------------------------------------------------------------------------------------------------------
def _box(id, part, comp, cx, y, w, h, label, shape="box", sub=None, dropped=False):
    return {"kind": "box", "id": id, "part": part, "component": comp, "x": cx - w / 2, "y": y, "w": w, "h": h,
            "label": label, "sub": sub, "shape": shape, "dropped": dropped}


def _line(id, parts, comp, points, arrow=True, dropped=False):
    return {"kind": "line", "id": id, "parts": sorted(parts), "component": comp, "points": points, "arrow": arrow,
            "dropped": dropped}


def _text(id, part, comp, x, y, text, size="label", ha="center", dropped=False, rotation=0):
    return {"kind": "text", "id": id, "part": part, "component": comp, "x": x, "y": y, "text": text, "size": size,
            "ha": ha, "dropped": dropped, "rotation": rotation}


def _column(side):
    """Elementos de uma coluna: "enc" (encoder, à esquerda) ou "dec" (decoder, à direita)."""
    enc = side == "enc"
    cx, w = (ENC_X, 30) if enc else (DEC_X, 32)
    outer = -1 if enc else 1  # lado de fora da coluna: rótulos, residuais e N×
    edge = cx + outer * (w / 2 + 1.5)  # por onde sobem as conexões residuais
    p = "encoder" if enc else None  # no encoder, toda parte pertence ao "encoder"
    d = enc  # o GPT não usa nada do encoder

    def part(name):
        return p or name

    els = []
    if enc:
        els.append(_box("enc_in", part("tokens"), "tokens", cx, 0.5, 24, 5.5, "Entradas", shape="pill", dropped=d))
        els.append(_box("enc_emb", part("embedding"), "tokens", cx, 9, w, 5.5, "Embedding de entrada", dropped=d))
    else:
        els.append(_box("dec_in", "tokens", "tokens", cx, 0, 42, 6.5, "Saídas (deslocadas à direita)",
                        shape="pill", sub="texto → tokens (ids)"))
        els.append(_box("dec_emb", "embedding", "tokens", cx, 9, w, 5.5, "Embedding dos tokens"))
    name = side
    els.append(_line(f"{name}_in_emb", {part("tokens"), part("embedding")}, "flow",
                     [[cx, 6.0 if enc else 6.5], [cx, 9]], dropped=d))
    # Codificação posicional: o ⊕ na coluna e a onda (seno) do lado de fora, com o rótulo.
    els.append(_line(f"{name}_emb_plus", {part("embedding"), part("posenc")}, "flow", [[cx, 14.5], [cx, 16.7]],
                     dropped=d))
    els.append({"kind": "plus", "id": f"{name}_plus", "part": part("posenc"), "component": "tokens", "x": cx,
                "y": 18.5, "r": 1.8, "dropped": d})
    wave_x = cx + outer * 6
    els.append({"kind": "wave", "id": f"{name}_wave", "part": part("posenc"), "component": "tokens", "x": wave_x,
                "y": 18.5, "r": 1.9, "dropped": d})
    els.append(_line(f"{name}_wave_plus", {part("posenc")}, "flow", [[wave_x - outer * 1.9, 18.5],
                                                                      [cx + outer * 1.8, 18.5]], dropped=d))
    els.append(_text(f"{name}_pe_label", part("posenc"), "tokens", wave_x + outer * 3, 18.5,
                     "Codificação\nposicional", ha="left" if not enc else "right", dropped=d))

    fork_y = 23.0
    if enc:
        rows = {"mha": (24.5, 5.5), "an1": (32.0, 3.5), "ff": (37.5, 5.0), "an2": (44.5, 3.5), "top": 50.0}
    else:
        rows = {"mha": (24.5, 7.5), "an1": (35.0, 4.0), "cross": (49.0, 7.0), "an_c": (58.5, 4.0),
                "ff": (65.5, 5.5), "an2": (73.5, 4.0), "top": 80.0}
    # O bloco (empilhado N vezes).
    cw = w + 6
    els.append({"kind": "container", "id": f"{name}_block", "part": part("stack"), "component": "residual",
                "x": cx - cw / 2, "y": 21.5, "w": cw, "h": rows["top"] - 21.5, "dropped": d})
    els.append(_text(f"{name}_n", part("stack"), "residual", cx + outer * (cw / 2 + 1.2),
                     (21.5 + rows["top"]) / 2, "N×", size="stack", ha="right" if enc else "left", dropped=d))
    # Entrada do bloco: sobe do ⊕ e se divide em Q, K, V.
    els.append(_line(f"{name}_plus_fork", {part("posenc"), part("attention")}, "flow", [[cx, 20.3], [cx, fork_y]],
                     arrow=False, dropped=d))
    y0, h = rows["mha"]
    for i, dx in enumerate((-0.3 * w, 0.0, 0.3 * w)):
        els.append(_line(f"{name}_qkv{i}", {part("attention")}, "flow",
                         [[cx, fork_y], [cx + dx, fork_y], [cx + dx, y0]], dropped=d))
    label = "Multi-head attention" if enc else "Multi-head attention\nmascarada"
    els.append(_box(f"{name}_mha", part("attention"), "attention", cx, y0, w, h, label, dropped=d))

    def add_norm(key, below_top):
        y, hh = rows[key]
        els.append(_line(f"{name}_{key}_in", {part("addnorm")}, "flow", [[cx, below_top], [cx, y]], dropped=d))
        els.append(_box(f"{name}_{key}", part("addnorm"), "residual", cx, y, w, hh, "Soma & norma", dropped=d))
        return y + hh / 2

    def residual(id, y_from, y_to):
        els.append(_line(f"{name}_{id}", {part("addnorm")}, "residual",
                         [[cx + outer * 0.3 * w, y_from], [edge, y_from], [edge, y_to], [cx + outer * w / 2, y_to]],
                         dropped=d))

    mid = add_norm("an1", y0 + h)
    residual("res1", fork_y, mid)
    top = rows["an1"][0] + rows["an1"][1]
    if not enc:  # a atenção cruzada: Q vem de baixo, K e V vêm do encoder
        y, hh = rows["cross"]
        branch = top + 3.5
        # As setas do meio continuam no caminho do GPT: sem a atenção cruzada, o dado passa direto.
        els.append(_line("dec_q", {"addnorm"}, "flow", [[cx, top], [cx, y]]))
        els.append(_box("dec_cross", "cross", "attention", cx, y, w, hh, "Multi-head attention\ncruzada",
                        dropped=True))
        els.append(_line("dec_res_c", {"cross"}, "residual",
                         [[cx, branch], [edge, branch], [edge, rows["an_c"][0] + 2], [cx + w / 2, rows["an_c"][0] + 2]],
                         dropped=True))
        els.append(_line("dec_an_c_in", {"addnorm"}, "flow", [[cx, y + hh], [cx, rows["an_c"][0]]]))
        els.append(_box("dec_an_c", "cross", "residual", cx, rows["an_c"][0], w, rows["an_c"][1], "Soma & norma",
                        dropped=True))
        top = rows["an_c"][0] + rows["an_c"][1]
    y, hh = rows["ff"]
    branch = (top + y) / 2
    els.append(_line(f"{name}_ff_in", {part("feedforward")}, "flow", [[cx, top], [cx, y]], dropped=d))
    els.append(_box(f"{name}_ff", part("feedforward"), "feedforward", cx, y, w, hh, "Feed-forward", dropped=d))
    mid = add_norm("an2", y + hh)
    els.append(_line(f"{name}_res2", {part("addnorm")}, "residual",
                     [[cx, branch], [edge, branch], [edge, mid], [cx + outer * w / 2, mid]], dropped=d))
    return els, rows


def _architecture():
    """Todos os elementos do desenho, sem estado (o estado depende do capítulo)."""
    enc, enc_rows = _column("enc")
    dec, dec_rows = _column("dec")
    els = enc + dec
    # Saída do encoder: K e V da atenção cruzada.
    cross_mid = dec_rows["cross"][0] + dec_rows["cross"][1] / 2
    els.append(_line("enc_to_cross", {"encoder", "cross"}, "flow",
                     [[ENC_X, enc_rows["top"]], [ENC_X, cross_mid], [DEC_X - 16, cross_mid]], dropped=True))
    els.append(_text("kv_label", "cross", "attention", 56.5, cross_mid + 1.6, "K, V", size="sub", dropped=True))
    # Saída: linear, softmax, probabilidades.
    top = dec_rows["an2"][0] + dec_rows["an2"][1]
    els.append(_line("dec_out_lin", {"addnorm", "output"}, "flow", [[DEC_X, top], [DEC_X, 83.5]]))
    els.append(_box("dec_linear", "output", "output", DEC_X, 83.5, 32, 5.0, "Linear"))
    els.append(_line("dec_lin_soft", {"output"}, "flow", [[DEC_X, 88.5], [DEC_X, 91.0]]))
    els.append(_box("dec_softmax", "output", "output", DEC_X, 91.0, 32, 5.0, "Softmax"))
    els.append(_line("dec_soft_prob", {"output"}, "flow", [[DEC_X, 96.0], [DEC_X, 98.5]]))
    els.append(_box("dec_probs", "output", "output", DEC_X, 98.5, 36, 5.5, "Probabilidades de saída", shape="pill"))
    return els


def _bigram_bypass():
    """Só no capítulo 02: o bigrama vai do embedding direto para a camada linear."""
    x = 114.5
    return [
        _line("bigram_path", {"bigram"}, "tokens", [[DEC_X + 16, 11.75], [x, 11.75], [x, 86.0], [DEC_X + 16, 86.0]]),
        _text("bigram_label", "bigram", "tokens", x + 2.2, 49.0, "bigrama: embedding direto para os logits",
              size="sub", rotation=90),
    ]


def _legend(chapter, highlighted_components):
    """Título e legenda no canto de cima, à esquerda (acima do encoder)."""
    x, y = 2.0, 101.5
    els = []
    if chapter is None:
        els.append(_text("title", "legend", "ink", x, y, "O Transformer original", size="title", ha="left"))
        els.append(_text("subtitle", "legend", "ink", x, y - 4.2, "(“Attention Is All You Need”, 2017)",
                         size="legend", ha="left"))
        rows = [("swatch_on", highlighted_components, "o GPT usa"),
                ("swatch_dropped", None, "o GPT não usa")]
    elif chapter == "06":
        els.append(_text("title", "legend", "ink", x, y, f"Capítulo {chapter} · {CHAPTERS[chapter]}", size="title",
                         ha="left"))
        rows = [("swatch_on", highlighted_components, "o Transformer completo"),
                ("swatch_extra", ["attention"], "tracejado: o que o GPT não usa")]
    else:
        els.append(_text("title", "legend", "ink", x, y, f"Capítulo {chapter} · {CHAPTERS[chapter]}", size="title",
                         ha="left"))
        built = "o que muda neste capítulo" if chapter == "07" else "construído neste capítulo"
        rows = [("swatch_on", highlighted_components, built),
                ("swatch_dim", None, "outros capítulos"), ("swatch_dim_dropped", None, "o GPT não usa")]
    y -= 10.0
    for id, comps, text in rows:
        kind = id.split("_", 1)[1]
        for i, comp in enumerate(comps or ["encoder"]):
            els.append({"kind": "swatch", "id": f"{id}_{i}", "part": "legend", "component": comp, "x": x + 3.4 * i,
                        "y": y - 1.3, "w": 3.0, "h": 2.6, "variant": kind})
        els.append(_text(f"{id}_text", "legend", "ink", x + 3.4 * len(comps or ["encoder"]) + 1.0, y, text,
                         size="legend", ha="left"))
        y -= 4.6
    if chapter is None:  # a chave de cores da série
        y -= 1.5
        els.append(_text("key_title", "legend", "ink", x, y, "Uma cor por componente, em toda a série:", size="legend",
                         ha="left"))
        y -= 4.6
        for comp, text in [("tokens", "tokens, embeddings e posições"), ("attention", "atenção"),
                           ("feedforward", "feed-forward"), ("residual", "soma & norma (residual + LayerNorm)"),
                           ("output", "saída: linear e softmax")]:
            els.append({"kind": "swatch", "id": f"key_{comp}", "part": "legend", "component": comp, "x": x,
                        "y": y - 1.3, "w": 3.0, "h": 2.6, "variant": "on"})
            els.append(_text(f"key_{comp}_text", "legend", "ink", x + 4.4, y, text, size="legend", ha="left"))
            y -= 4.2
    return els


def describe(chapter=None):
    """Descrição completa da figura de um capítulo ("01".."07"), ou da figura geral (None) do README."""
    els = _architecture()
    if chapter == "02":
        els += _bigram_bypass()
    if chapter == "03":  # o capítulo 03 constrói uma cabeça só; as várias vêm no 04
        els.append(_text("one_head", "attention", "attention", DEC_X + 21.5, 28.25, "uma cabeça,\npor enquanto",
                         size="sub", ha="left"))
    highlight = HIGHLIGHTS[chapter] if chapter else None
    for el in els:
        parts = set(el.get("parts") or [el["part"]])
        if chapter is None:
            el["state"] = "dropped" if el["dropped"] else "on"
        elif chapter == "06":  # o Transformer completo, todo em cores; tracejado, o que o GPT não usa
            el["state"] = "extra" if el["dropped"] else "on"
        elif parts <= highlight:
            el["state"] = "focus"
        else:  # apagado; tracejado se o GPT nem usa
            el["state"] = "dim_dropped" if el["dropped"] else "dim"
    shown = [el for el in els if el["state"] in ("focus", "on", "extra") and el["kind"] in ("box", "plus")]
    comps = sorted({el["component"] for el in shown}, key=list(COLORS).index)
    els += [dict(el, state="legend") for el in _legend(chapter, comps)]
    name = f"arquitetura_{chapter}" if chapter else "arquitetura"
    cell = {"alt": ALT_TEXT[chapter], "caption": CAPTIONS[chapter]} if chapter else None  # o texto da célula também
    return {"name": name, "chapter": chapter, "style": STYLE, "cell": cell, "code": _drawing_code(),
            "elements": _rounded(els)}


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, 3)
    if isinstance(obj, list):
        return [_rounded(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


def fingerprint(description):
    canonical = json.dumps(description, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _source_digest(*functions):
    """SHA-256 (curto) do código-fonte das funções: o traço do desenho também faz parte da figura."""
    import inspect

    source = "".join(inspect.getsource(f) for f in functions)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def _drawing_code():
    return _source_digest(_mix, _look, render, figure_cell_source)


def all_descriptions():
    return {None: describe(None), **{ch: describe(ch) for ch in CHAPTERS}}


# ---------------------------------------------------------------------------------------------------------------
# Desenho: interpreta a descrição com matplotlib
# ---------------------------------------------------------------------------------------------------------------
def _mix(color, other, t):
    from matplotlib.colors import to_hex, to_rgb

    a, b = to_rgb(color), to_rgb(other)
    return to_hex([x * (1 - t) + y * t for x, y in zip(a, b)])


def _look(el, style):
    """Cores e traço de um elemento segundo o seu estado."""
    state = el["state"]
    comp = el["component"]
    strong = style["colors"].get(comp, style["flow"])
    if comp == "flow":
        color = style["flow"] if state in ("focus", "on", "extra") else style[state]["flow"]
        return {"edge": color, "lw": 1.6 if state == "focus" else 1.1, "ls": (0, (3, 2)) if state == "extra" else "-"}
    if state in ("focus", "on", "extra"):
        return {"fill": _mix(strong, "#FFFFFF", style["light"]), "edge": strong,
                "text": _mix(strong, "#000000", style["text_dark"]), "lw": 1.9 if state == "focus" else 1.3,
                "weight": "bold" if state == "focus" else "normal", "ls": (0, (3, 2)) if state == "extra" else "-"}
    s = style[state]
    return {"fill": s["fill"], "edge": s["edge"], "text": s["text"], "lw": 1.0, "weight": "normal",
            "ls": (0, (3, 2)) if state.endswith("dropped") else "-"}


def render(description):
    """Desenha a figura e devolve os bytes do PNG (com a impressão digital nos metadados)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Circle, FancyBboxPatch, Rectangle
    from PIL import Image, PngImagePlugin

    style = description["style"]
    fonts = style["font"]
    W, H = style["canvas"]
    fig = plt.figure(figsize=(style["width"], style["width"] * H / W), dpi=style["dpi"], facecolor="white")
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, W)
    ax.set_ylim(-1, H - 1)  # mesma escala nos dois eixos: círculos redondos
    ax.set_aspect("auto")
    ax.axis("off")

    for el in description["elements"]:
        kind = el["kind"]
        if kind == "swatch":
            look = _look(dict(el, state=el["variant"]), style)
        elif el["component"] == "ink":
            look = {}
        else:
            look = _look(el, style)
        if kind == "container":
            ax.add_patch(FancyBboxPatch((el["x"], el["y"]), el["w"], el["h"], boxstyle="round,pad=0,rounding_size=2",
                                        fc=_mix(look["fill"], "#FFFFFF", 0.55), ec=look["edge"], lw=look["lw"],
                                        ls=look["ls"], zorder=1))
        elif kind == "box":
            rounding = el["h"] / 2 if el["shape"] == "pill" else 1.0
            ax.add_patch(FancyBboxPatch((el["x"], el["y"]), el["w"], el["h"],
                                        boxstyle=f"round,pad=0,rounding_size={rounding}", fc=look["fill"],
                                        ec=look["edge"], lw=look["lw"], ls=look["ls"], zorder=3))
            cx, cy = el["x"] + el["w"] / 2, el["y"] + el["h"] / 2
            if el["sub"]:
                ax.text(cx, cy + el["h"] * 0.17, el["label"], ha="center", va="center", fontsize=fonts["label"],
                        color=look["text"], weight=look["weight"], zorder=4)
                ax.text(cx, cy - el["h"] * 0.24, el["sub"], ha="center", va="center", fontsize=fonts["sub"],
                        color=look["text"], zorder=4)
            else:
                ax.text(cx, cy, el["label"], ha="center", va="center", fontsize=fonts["label"], color=look["text"],
                        weight=look["weight"], linespacing=1.15, zorder=4)
        elif kind == "plus":
            ax.add_patch(Circle((el["x"], el["y"]), el["r"], fc=look["fill"], ec=look["edge"], lw=look["lw"],
                                ls=look["ls"], zorder=3))
            r = el["r"] * 0.55
            for (x0, y0), (x1, y1) in [((-r, 0), (r, 0)), ((0, -r), (0, r))]:
                ax.plot([el["x"] + x0, el["x"] + x1], [el["y"] + y0, el["y"] + y1], color=look["edge"],
                        lw=look["lw"], zorder=4, solid_capstyle="butt")
        elif kind == "wave":
            ax.add_patch(Circle((el["x"], el["y"]), el["r"], fc=look["fill"], ec=look["edge"], lw=look["lw"],
                                ls=look["ls"], zorder=3))
            t = np.linspace(-1, 1, 40)
            ax.plot(el["x"] + t * el["r"] * 0.7, el["y"] + np.sin(t * np.pi) * el["r"] * 0.45, color=look["edge"],
                    lw=look["lw"] * 0.8, zorder=4)
        elif kind == "line":
            pts = el["points"]
            color, lw = look["edge"], look["lw"]
            xs, ys = zip(*pts)
            ax.plot(xs, ys, color=color, lw=lw, ls=look["ls"], zorder=2, solid_joinstyle="miter",
                    solid_capstyle="butt")
            if el["arrow"]:
                ax.annotate("", xy=pts[-1], xytext=pts[-2], zorder=2,
                            arrowprops={"arrowstyle": "-|>,head_length=0.45,head_width=0.22", "color": color,
                                        "lw": lw, "shrinkA": 0, "shrinkB": 0.3})
        elif kind == "text":
            if el["component"] == "ink":
                color, weight = style["ink"], "bold" if el["size"] == "title" else "normal"
            else:
                color, weight = look["text"], look["weight"]
            ax.text(el["x"], el["y"], el["text"], ha=el["ha"], va="center", fontsize=fonts[el["size"]], color=color,
                    weight=weight, rotation=el["rotation"], linespacing=1.1, zorder=5)
        elif kind == "swatch":
            ax.add_patch(Rectangle((el["x"], el["y"]), el["w"], el["h"], fc=look["fill"], ec=look["edge"],
                                   lw=look["lw"], ls=look["ls"], zorder=3))
        else:
            raise ValueError(f"tipo de elemento desconhecido: {kind}")

    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    image = Image.fromarray(rgb).quantize(colors=style["png_colors"], method=Image.Quantize.MEDIANCUT,
                                          dither=Image.Dither.NONE)
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_KEY, f"{description['name']} sha256:{fingerprint(description)}")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


def _png_text(png_bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png_bytes)).text.get(PNG_KEY, "")


def png_fingerprint(png_bytes):
    """A impressão digital gravada no PNG (ou None)."""
    match = re.search(r"sha256:([0-9a-f]{64})", _png_text(png_bytes))
    return match[1] if match else None


# ---------------------------------------------------------------------------------------------------------------
# A figura dentro dos notebooks
# ---------------------------------------------------------------------------------------------------------------
def chapter_notebook(chapter, notebooks=None):
    matches = sorted(Path(notebooks or NOTEBOOKS).glob(f"{chapter}_*.ipynb"))
    return matches[0] if matches else None


def figure_cell_source(chapter, png_bytes, digest):
    data = base64.b64encode(png_bytes).decode("ascii")
    return (
        f"{MARKER}\n"
        f"<!-- capítulo {chapter} · sha256:{digest} · gerada por scripts/figures.py (make figures); "
        "não edite esta célula à mão -->\n\n"
        f"![Arquitetura do Transformer, com destaque para {ALT_TEXT[chapter]}](data:image/png;base64,{data})\n\n"
        f"*Onde estamos:* {CAPTIONS[chapter]} "
        + ("Em cinza, o que fica para outros capítulos; tracejado, o que o GPT não usa." if chapter != "06"
           else "Tracejado, o que o GPT não usa.")
    )


def find_figure_cells(nb):
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown" and cell.source.startswith(MARKER)]


def cell_fingerprint(source):
    """(capítulo, sha256) lidos do comentário da célula da figura."""
    match = FINGERPRINT_LINE.search(source)
    return (match[1], match[2]) if match else (None, None)


def cell_png(source):
    match = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", source)
    return base64.b64decode(match[1]) if match else None


def _title_index(nb):
    """A figura entra logo depois da primeira célula markdown (o título)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and not cell.source.startswith(MARKER):
            return i + 1
    return 0


def embed(path, chapter, description, png_bytes=None):
    """Põe (ou atualiza) a figura do capítulo logo depois do título. Devolve True se o arquivo mudou.

    Idempotente: se a célula já está no lugar com a impressão digital de hoje, nada é reescrito. As outras
    células e as saídas guardadas ficam como estão (células markdown não têm contador de execução).
    """
    import nbformat

    from nbtool import clean

    path = Path(path)
    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    digest = fingerprint(description)
    found = find_figure_cells(nb)
    keep = None
    if len(found) == 1 and cell_fingerprint(nb.cells[found[0]].source) == (chapter, digest):
        keep = nb.cells[found[0]]
    for i in reversed(found):
        del nb.cells[i]
    if keep is None:
        if png_bytes is None:
            png_bytes = render(description)
        keep = nbformat.v4.new_markdown_cell(figure_cell_source(chapter, png_bytes, digest))
    nb.cells.insert(_title_index(nb), keep)
    after = nbformat.writes(clean(nb))
    after += "" if after.endswith("\n") else "\n"  # como nbformat.write
    if after == before:
        return False
    nbformat.validate(nb)
    path.write_text(after, encoding="utf-8")
    return True


# ---------------------------------------------------------------------------------------------------------------
# A perda por etapa (para o README), lida das saídas guardadas nos notebooks
# ---------------------------------------------------------------------------------------------------------------
def losses_from_notebooks(notebooks=None):
    """{etapa: perda de validação} das linhas `perda de validação final (etapa): x` guardadas nos notebooks."""
    import nbformat

    losses = {}
    for path in sorted(Path(notebooks or NOTEBOOKS).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                text = output.get("text", "") if output.get("output_type") == "stream" else ""
                for stage, value in LOSS_LINE.findall(text):
                    if stage in STAGES:
                        losses[stage] = float(value)
    return {stage: losses[stage] for stage in STAGES if stage in losses}


def _losses_key(losses):
    """O que o gráfico mostra (as perdas) e o código que o desenha: muda um dos dois, o PNG fica velho."""
    code = _source_digest(render_losses)
    return f"perda_por_etapa {json.dumps(losses, ensure_ascii=False, sort_keys=True)} código {code}"


def render_losses(losses):
    import math

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    uniform = -math.log(1 / 65)
    stages = list(losses)
    fig, ax = plt.subplots(figsize=(5.0, 0.5 + 0.42 * len(stages)), dpi=150, facecolor="white")
    colors = [COLORS[STAGES[s]] for s in stages]
    ax.barh(stages, [losses[s] for s in stages], color=colors, height=0.62)
    def decimal(x):  # vírgula decimal, como se escreve em português
        return f"{x:.2f}".replace(".", ",")

    for i, s in enumerate(stages):
        ax.text(losses[s] + 0.03, i, decimal(losses[s]), va="center", fontsize=8, color="#1F2937")
    ax.axvline(uniform, color=COLORS["encoder"], ls="--", lw=1)
    ax.text(uniform - 0.06, len(stages) - 1, f"chute uniforme:\n−ln(1/65) ≈ {decimal(uniform)}", ha="right",
            va="center", fontsize=7, color="#6B7280")
    ax.invert_yaxis()
    ax.set_xlim(0, uniform + 0.35)
    ax.set_xlabel("perda de validação (nats; menor é melhor),\nmedida na CPU de 2 núcleos", fontsize=8)
    ax.set_title("Perda de validação por etapa da série", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", facecolor="white", metadata={"Software": None, PNG_KEY: _losses_key(losses)})
    plt.close(fig)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="só confere; sai com erro se algo está desatualizado")
    parser.add_argument("--no-embed", action="store_true", help="não mexe nos notebooks")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    parser.add_argument("--figures", type=Path, default=FIGURES)
    args = parser.parse_args(argv)

    stale = []
    rendered = {}
    args.figures.mkdir(parents=True, exist_ok=True)
    for chapter, description in all_descriptions().items():
        digest = fingerprint(description)
        path = args.figures / f"{description['name']}.png"
        if path.is_file() and png_fingerprint(path.read_bytes()) == digest:
            rendered[chapter] = path.read_bytes()
            print(f"  {path.name}: em dia")
            continue
        if args.check:
            stale.append(path.name)
            continue
        rendered[chapter] = render(description)
        path.write_bytes(rendered[chapter])
        print(f"  {path.name}: desenhada ({len(rendered[chapter]) / 1024:.0f} KB)")

    if not args.no_embed:
        for chapter in CHAPTERS:
            nb_path = chapter_notebook(chapter, args.notebooks)
            if nb_path is None:
                print(f"  capítulo {chapter}: notebook ainda não existe, pulei")
                continue
            if args.check:
                import nbformat

                nb = nbformat.read(nb_path, as_version=4)
                found = find_figure_cells(nb)
                ok = (len(found) == 1 and found[0] == _title_index(nb) and
                      cell_fingerprint(nb.cells[found[0]].source) == (chapter, fingerprint(describe(chapter))))
                if not ok:
                    stale.append(nb_path.name)
                continue
            changed = embed(nb_path, chapter, describe(chapter), rendered.get(chapter))
            print(f"  {nb_path.name}: {'figura atualizada' if changed else 'figura em dia'}")

        losses = losses_from_notebooks(args.notebooks)
        path = args.figures / "perda_por_etapa.png"
        if not losses:
            print("  perda_por_etapa.png: nenhuma perda final guardada nos notebooks ainda, pulei")
        elif path.is_file() and _png_text(path.read_bytes()) == _losses_key(losses):
            print("  perda_por_etapa.png: em dia")
        elif args.check:
            stale.append(path.name)
        else:
            path.write_bytes(render_losses(losses))
            print(f"  perda_por_etapa.png: desenhada ({', '.join(f'{k} {v:.2f}' for k, v in losses.items())})")

    if stale:
        print("Desatualizado: " + ", ".join(stale) + ". Rode `make figures`.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
