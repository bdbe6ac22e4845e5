#!/usr/bin/env python3
"""Figuras da série: a arquitetura do Transformer, com a parte de cada capítulo em destaque, e a perda por etapa.

    python scripts/figures.py            # desenha figures/*.png e atualiza a figura no topo de cada capítulo
    python scripts/figures.py --check    # só confere: sai com erro se alguma figura ou capítulo está desatualizado
    python scripts/figures.py --no-embed # só desenha as figuras em figures/, sem mexer nos notebooks

A arquitetura é uma descrição declarativa (tabelas que viram caixas, setas e textos, cada um no seu estado) que
`render` desenha; a impressão digital (SHA-256) junta a descrição e o significado do código que desenha (a AST, sem
docstrings nem comentários). Ela vai no PNG e na célula da figura, que entra em cada notebook como imagem
`data:image/png;base64`, a forma que aparece no GitHub, no Jupyter e no Colab (anexos e links para ../figures, não).
"""
import argparse
import ast
import base64
import hashlib
import inspect
import io
import json
import re

import nbformat
import numpy as np
from architecture import (
    CELL,
    CELL_KEYS,
    CHAPTERS,
    COLORS,
    COLUMNS,
    EXTRAS,
    FINGERPRINT_LINE,
    FORK_Y,
    LEGENDS,
    MARKER,
    PNG_KEY,
    STYLE,
    _el,
)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch
from PIL import Image, PngImagePlugin

from nbcode import ROOT, code_cells, definitions, notebook_path, stage_losses
from nbtool import clean

FIGURES = ROOT / "figures"

FIGURES = ROOT / "figures"
def _column(side):
    """Os elementos de uma coluna de COLUMNS: as caixas, as setas entre elas e as residuais."""
    (cx, w, o, top, rows), enc = COLUMNS[side], side == "enc"
    edge, cw, ha = cx + o * (w / 2 + 1.5), w + 6, "right" if enc else "left"  # residuais, bloco, textos de fora

    def el(kind, id, names, comp, dropped=enc, **fields):  # no encoder, tudo é da parte "encoder"
        return _el(kind, f"{side}_{id}", ["encoder"] if enc else names, comp, dropped, **fields)

    els = [el("container", "block", ["stack"], "residual", x=cx - cw / 2, y=21.5, w=cw, h=top - 21.5,
              boxstyle="round,pad=0,rounding_size=2"),
           el("text", "n", ["stack"], "residual", x=cx + o * (cw / 2 + 1.2), y=(21.5 + top) / 2, text="N×",
              size="stack", ha=ha)]
    below = None  # o topo da caixa de baixo
    for key, part, comp, y, h, label, into, opt in rows:
        dropped, r = enc or "dropped" in opt, h / 2
        if into:  # a seta que entra; na atenção, ela sobe só até onde se divide em Q, K e V
            end = FORK_Y if key == "mha" else y
            els.append(el("line", f"{key}_in", into, "flow", points=[[cx, below], [cx, end]], arrow=key != "mha"))
        if key == "mha":
            els += [el("line", f"qkv{i}", [part], "flow", points=[[cx, FORK_Y], [cx + dx, FORK_Y], [cx + dx, y]],
                       arrow=True) for i, dx in enumerate((-0.3 * w, 0.0, 0.3 * w))]
        if key == "plus":
            wave = cx + o * 6
            els += [el("plus", "plus", [part], comp, dropped, x=cx, y=y + r, r=r),
                    el("wave", "wave", [part], comp, dropped, x=wave, y=y + r, r=1.9),
                    el("line", "wave_plus", [part], "flow", points=[[wave - o * 1.9, y + r], [cx + o * r, y + r]],
                       arrow=True),
                    el("text", "pe_label", [part], comp, dropped, x=wave + o * 3, y=y + r, text=label, ha=ha)]
        else:
            bw = opt.get("w", w)
            els.append(el("box", key, [part], comp, dropped, x=cx - bw / 2, y=y, w=bw, h=h, label=label,
                          sub=opt.get("sub"), boxstyle=f"round,pad=0,rounding_size={r if 'pill' in opt else 1.0}"))
        if "res" in opt:  # sai de baixo, sobe por fora e entra de lado nesta soma & norma
            (dx, y0), mid = opt["res"], y + r
            els.append(el("line", f"{key}_res", [part], "residual", dropped, arrow=True,
                          points=[[cx + o * dx * w, y0], [edge, y0], [edge, mid], [cx + o * w / 2, mid]]))
        below = y + h
    return els


def _state(chapter, el):
    """Em destaque ("focus") ou apagado ("dim"); o que o GPT não usa, tracejado ("dim_dropped", "dropped", "extra")."""
    if chapter in (None, "06"):  # a figura geral e o Transformer completo do 06: tudo em cores
        return ("extra" if chapter else "dropped") if el["dropped"] else "on"
    return "focus" if set(el["parts"]) <= CHAPTERS[chapter][1] else "dim_dropped" if el["dropped"] else "dim"


def describe(chapter=None):
    """Descrição completa da figura de um capítulo ("01".."07"), ou da figura geral (None) do README."""
    els = [dict(el, state=_state(chapter, el))
           for el in _column("enc") + _column("dec") + EXTRAS["all"] + EXTRAS.get(chapter, [])]
    built = sorted({el["component"] for el in els if el["state"] in ("focus", "on", "extra")
                    and el["kind"] in ("box", "plus")}, key=list(COLORS).index)
    x, y = 2.0, 101.5  # a legenda: o título e as linhas de LEGENDS
    title = f"Capítulo {chapter} · {CHAPTERS[chapter][0]}" if chapter else "O Transformer original"
    els.append(_el("text", "title", ["legend"], "ink", x=x, y=y, text=title, size="title", ha="left", state="legend"))
    for i, (dy, state, comps, text) in enumerate(LEGENDS[chapter]):
        y, comps = y - dy, built if comps == "built" else comps
        els += [_el("swatch", f"swatch_{i}_{j}", ["legend"], comp, x=x + 3.4 * j, y=y - 1.3, w=3.0, h=2.6,
                    state=state, boxstyle="square,pad=0") for j, comp in enumerate(comps)]
        els.append(_el("text", f"legend_{i}", ["legend"], "ink", x=x + 3.4 * len(comps) + 1.0 if comps else x, y=y,
                       text=text, size="legend", ha="left", state="legend"))
    cell = {"chapter": chapter, "alt": CHAPTERS[chapter][2], "caption": CHAPTERS[chapter][3],
            "key": CELL_KEYS.get(chapter, CELL_KEYS[None]), "template": CELL} if chapter else None
    return {"name": f"arquitetura_{chapter}" if chapter else "arquitetura", "chapter": chapter, "style": STYLE,
            "cell": cell, "code": _code_meaning(_mix, _look, render),
            "elements": json.loads(json.dumps(els), parse_float=lambda s: round(float(s), 3))}


def all_descriptions():
    return {None: describe(None), **{ch: describe(ch) for ch in CHAPTERS}}


def _code_meaning(*code):
    """SHA-256 (curto) do que o código faz (funções ou o texto delas): a AST, sem posições nem docstrings."""
    trees = [ast.parse(c if isinstance(c, str) else inspect.getsource(c)) for c in code]  # sem comentários
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256("\n".join(ast.dump(t) for t in trees).encode("utf-8")).hexdigest()[:16]


def fingerprint(description):
    canonical = json.dumps(description, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def png_text(png_bytes):
    """O texto gravado nos metadados do PNG (veja PNG_KEY), ou "" se não houver."""
    return Image.open(io.BytesIO(png_bytes)).text.get(PNG_KEY, "")


# O desenhista: interpreta a descrição com matplotlib. ----------------------------------------------------------
def _mix(color, other, t):
    return to_hex([x * (1 - t) + y * t for x, y in zip(to_rgb(color), to_rgb(other))])


def _look(el, style):
    """Cores e traço de um elemento segundo o seu estado."""
    state, comp = el["state"], el["component"]
    if comp == "ink":  # título e textos da legenda
        return {"text": style["ink"], "weight": "bold" if el["size"] == "title" else "normal"}
    bright, s = state in ("focus", "on", "extra"), style.get(state, {})
    ls = (0, (3, 2)) if state == "extra" or (comp != "flow" and state.endswith("dropped")) else "-"
    if comp == "flow":
        return {"edge": style["flow"] if bright else s["flow"], "lw": 1.6 if state == "focus" else 1.1, "ls": ls}
    if bright:
        strong = style["colors"][comp]
        return {"fill": _mix(strong, "#FFFFFF", style["light"]), "edge": strong, "ls": ls,
                "text": _mix(strong, "#000000", style["text_dark"]), "lw": 1.9 if state == "focus" else 1.3,
                "weight": "bold" if state == "focus" else "normal"}
    return {"fill": s["fill"], "edge": s["edge"], "text": s["text"], "lw": 1.0, "weight": "normal", "ls": ls}


def render(description):
    """Desenha a figura e devolve os bytes do PNG (com a impressão digital nos metadados)."""
    style = description["style"]
    fonts, (W, H) = style["font"], style["canvas"]
    fig = Figure(figsize=(style["width"], style["width"] * H / W), dpi=style["dpi"], facecolor="white")
    ax = fig.add_axes([0, 0, 1, 1], xlim=(0, W), ylim=(-1, H - 1))  # a proporção do desenho: círculos redondos
    ax.axis("off")
    for el in description["elements"]:
        kind, look = el["kind"], _look(el, style)
        stroke = {"ec": look.get("edge"), "lw": look.get("lw"), "ls": look.get("ls")}
        if kind in ("container", "box", "swatch", "plus", "wave"):  # as caixas e os círculos
            fill = _mix(look["fill"], "#FFFFFF", 0.55) if kind == "container" else look["fill"]
            ax.add_patch(Circle((el["x"], el["y"]), el["r"], fc=fill, zorder=3, **stroke) if "r" in el else
                         FancyBboxPatch((el["x"], el["y"]), el["w"], el["h"], boxstyle=el["boxstyle"], fc=fill,
                                        zorder=1 if kind == "container" else 3, **stroke))
        if kind == "box":  # o rótulo no meio; com sub-rótulo, um sobre o outro
            labels = ([(0.17, el["label"], "label", look["weight"], None), (-0.24, el["sub"], "sub", "normal", None)]
                      if el["sub"] else [(0, el["label"], "label", look["weight"], 1.15)])
            for dy, text, size, weight, spacing in labels:
                ax.text(el["x"] + el["w"] / 2, el["y"] + el["h"] / 2 + el["h"] * dy, text, ha="center", va="center",
                        fontsize=fonts[size], color=look["text"], weight=weight, linespacing=spacing, zorder=4)
        elif kind in ("plus", "wave"):  # dentro do círculo, um + ou uma onda (seno)
            x, y, r, t = el["x"], el["y"], el["r"], np.linspace(-1, 1, 40)
            for xs, ys in ([([x - r * 0.55, x + r * 0.55], [y, y]), ([x, x], [y - r * 0.55, y + r * 0.55])]
                           if kind == "plus" else [(x + t * r * 0.7, y + np.sin(t * np.pi) * r * 0.45)]):
                ax.plot(xs, ys, color=look["edge"], lw=look["lw"] * (1 if kind == "plus" else 0.8), zorder=4,
                        solid_capstyle="butt" if kind == "plus" else "projecting")
        elif kind == "line":
            ax.plot(*zip(*el["points"]), color=look["edge"], lw=look["lw"], ls=look["ls"], zorder=2,
                    solid_joinstyle="miter", solid_capstyle="butt")
            if el["arrow"]:
                ax.annotate("", xy=el["points"][-1], xytext=el["points"][-2], zorder=2,
                            arrowprops={"arrowstyle": "-|>,head_length=0.45,head_width=0.22", "color": look["edge"],
                                        "lw": look["lw"], "shrinkA": 0, "shrinkB": 0.3})
        elif kind == "text":
            ax.text(el["x"], el["y"], el["text"], ha=el.get("ha", "center"), va="center", color=look["text"],
                    fontsize=fonts[el.get("size", "label")], weight=look["weight"], rotation=el.get("rotation", 0),
                    linespacing=1.1, zorder=5)
    canvas, info, out = FigureCanvasAgg(fig), PngImagePlugin.PngInfo(), io.BytesIO()
    canvas.draw()
    info.add_text(PNG_KEY, fingerprint(description))
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).quantize(
        colors=style["png_colors"], method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


# A figura dentro dos notebooks. --------------------------------------------------------------------------------
def find_figure_cells(nb):
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown" and cell.source.startswith(MARKER)]


def read_figure_cell(source):
    """(capítulo, sha256, bytes do PNG) lidos da célula da figura (None onde faltar)."""
    found, png = FINGERPRINT_LINE.search(source), re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", source)
    return (*(found.groups() if found else (None, None)), base64.b64decode(png[1]) if png else None)


def embed(path, chapter, description, png_bytes=None, write=True):
    """Põe a figura de hoje logo depois do título (a primeira célula markdown), sem mexer no resto. Devolve True se
    ela faltava, era velha ou estava fora do lugar (com write=False, só confere)."""
    nb, digest = nbformat.read(path, as_version=4), fingerprint(description)
    found = find_figure_cells(nb)
    cells = [c for i, c in enumerate(nb.cells) if i not in found]
    place = next((i + 1 for i, c in enumerate(cells) if c.cell_type == "markdown"), 0)
    if found == [place] and read_figure_cell(nb.cells[place].source)[:2] == (chapter, digest):
        return False
    if write:
        png = base64.b64encode(png_bytes or render(description)).decode()
        cell = nbformat.v4.new_markdown_cell(CELL.format(**description["cell"], digest=digest, png=png))
        nb.cells = cells[:place] + [cell] + cells[place:]
        nbformat.validate(clean(nb))
        nbformat.write(nb, path)
    return True


# A perda por etapa, no README: o gráfico do próprio capítulo 05 (plot_stage_losses), não uma segunda versão. ----
def render_losses(losses):
    """O PNG do plot_stage_losses do capítulo 05 com as perdas {etapa: perda} (e _losses_key nos metadados)."""
    fig = definitions("05")["plot_stage_losses"](losses, float(np.log(65)))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=120, facecolor="white",
                metadata={"Software": None, PNG_KEY: _losses_key(losses)})
    return out.getvalue()


def _losses_key(losses):
    """O que o gráfico mostra (as perdas) e o código que o desenha: muda um dos dois, o PNG fica velho."""
    source = next(s for s in code_cells(notebook_path("05")) if "def plot_stage_losses(" in s)
    shown = json.dumps(losses, ensure_ascii=False, sort_keys=True)
    return f"perda_por_etapa {shown} código {_code_meaning(source)}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="só confere; sai com erro se algo está desatualizado")
    parser.add_argument("--no-embed", action="store_true", help="não mexe nos notebooks")
    args, stale = parser.parse_args(argv), []
    descriptions, losses = all_descriptions(), stage_losses("cpu")  # os números do README são os da CPU
    pngs = {f"{d['name']}.png": (fingerprint(d), render, d) for d in descriptions.values()}
    pngs["perda_por_etapa.png"] = (_losses_key(losses), render_losses, losses)
    for name, (key, draw, data) in pngs.items():  # em dia se os metadados do PNG são os de hoje
        if not (FIGURES / name).is_file() or png_text((FIGURES / name).read_bytes()) != key:
            stale.append(name)
            if not args.check:
                (FIGURES / name).write_bytes(draw(data))
    for chapter in [] if args.no_embed else CHAPTERS:  # a figura de cada capítulo, a mesma de figures/
        path, png = notebook_path(chapter), FIGURES / f"arquitetura_{chapter}.png"
        if embed(path, chapter, descriptions[chapter], None if args.check else png.read_bytes(), not args.check):
            stale.append(path.name)
    if stale:
        print(f"{'Desatualizado' if args.check else 'Atualizado'}: {', '.join(stale)}."
              + (" Rode `make figures`." if args.check else ""))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
