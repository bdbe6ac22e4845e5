"""A figura da arquitetura no topo de cada capítulo é a que scripts/figures.py desenha hoje.

Bytes de PNG mudam de uma versão do matplotlib para outra, então não comparamos imagens: comparamos o que foi
desenhado. O script monta uma descrição declarativa de cada figura (caixas, textos, cores, o que está em destaque,
a legenda e a legenda da célula); a impressão digital (SHA-256) dela vai no comentário da célula e nos metadados do
PNG. Mudou o desenho e ninguém rodou `make figures`? Os testes abaixo acusam. A impressão digital segue o que o
código faz, não o texto dele: mudar um comentário ou uma docstring não deixa figura nenhuma velha.
"""
import ast
import base64
import importlib.util
import io
import tokenize
from pathlib import Path

import nbformat
import pytest
from PIL import Image

import figures
from nbcode import STAGES, code_cells, notebook_path, shared_cells, stage_losses
from nbtool import clean

DESCRIPTIONS = figures.all_descriptions()
REGENERATE = "rode `make figures` (ou python scripts/figures.py) para atualizar"


def tiny_png():
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


def check_png(png, digest):
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert 600 <= width <= 1000 and 450 <= height <= 900, f"tamanho inesperado: {image.size}"
    assert len(png) < 150_000, f"PNG grande demais para o notebook: {len(png) / 1024:.0f} KB"
    assert figures.png_text(png) == digest, "o PNG não é o da descrição de hoje"


def test_one_description_per_figure_and_deterministic():
    digests = {ch: figures.fingerprint(d) for ch, d in DESCRIPTIONS.items()}
    assert len(set(digests.values())) == len(digests), "duas figuras com a mesma descrição"
    again = {ch: figures.fingerprint(d) for ch, d in figures.all_descriptions().items()}
    assert again == digests, "a descrição muda de uma chamada para outra"


def test_each_chapter_highlights_its_part():
    def states(chapter, element_id):
        return {el["id"]: el["state"] for el in DESCRIPTIONS[chapter]["elements"]}[element_id]

    assert states("01", "dec_in") == "focus" and states("01", "dec_mha") == "dim"
    assert states("02", "dec_emb") == "focus" and states("02", "dec_linear") == "focus"
    assert states("02", "bigram_path") == "focus" and states("02", "dec_mha") == "dim"
    assert states("03", "dec_mha") == "focus" and states("03", "dec_plus") == "focus"
    assert states("03", "dec_ff") == "dim"
    assert states("04", "dec_mha") == "focus" and states("04", "dec_ff") == "focus"
    assert states("05", "dec_an1") == "focus" and states("05", "dec_block") == "focus"
    assert states("05", "dec_softmax") == "focus" and states("05", "dec_emb") == "dim"
    for chapter in ["01", "02", "03", "04", "05"]:  # o que o GPT não usa fica apagado e tracejado
        assert states(chapter, "enc_mha") == "dim_dropped" and states(chapter, "dec_cross") == "dim_dropped"
    assert states("06", "enc_mha") == "extra" and states("06", "dec_mha") == "on"
    assert states(None, "enc_mha") == "dropped" and states(None, "dec_mha") == "on"


def test_one_colour_per_component():
    """Só as cores da paleta da série, e cada caixa com a cor do seu componente."""
    expected = {"Multi-head attention": "attention", "Feed-forward": "feedforward", "Soma & norma": "residual",
                "Linear": "output", "Softmax": "output", "Embedding de saída": "tokens"}
    for description in DESCRIPTIONS.values():
        assert description["style"]["colors"] == figures.COLORS
        for el in description["elements"]:
            assert el["component"] in figures.COLORS or el["component"] in ("flow", "ink"), el
            if el["kind"] == "box" and el["label"].split("\n")[0] in expected:
                assert el["component"] == expected[el["label"].split("\n")[0]], el


def test_palette_is_the_one_of_chapter_01():
    assert shared_cells("01", "cores")["COLORS"] == figures.COLORS, (
        "scripts/figures.py e a célula `# compartilhado: cores` do capítulo 01 têm paletas diferentes"
    )


@pytest.mark.parametrize("chapter", list(figures.CHAPTERS))
def test_chapter_shows_its_current_figure(chapter):
    path = notebook_path(chapter)
    nb = nbformat.read(path, as_version=4)
    found = figures.find_figure_cells(nb)
    assert found, f"{path.name} não tem a figura da arquitetura: {REGENERATE}"
    assert len(found) == 1, f"{path.name} tem {len(found)} figuras da arquitetura: {REGENERATE}"
    assert nb.cells[0].cell_type == "markdown" and found == [1], (
        f"{path.name}: a figura deve vir logo depois do título: {REGENERATE}"
    )
    source = nb.cells[1].source
    digest = figures.fingerprint(DESCRIPTIONS[chapter])
    found_chapter, found_digest, png = figures.read_figure_cell(source)
    assert (found_chapter, found_digest) == (chapter, digest), (
        f"{path.name}: a figura guardada não é a que o script desenha hoje: {REGENERATE}"
    )
    assert png, f"{path.name}: a célula da figura não tem a imagem embutida (data:image/png;base64)"
    check_png(png, digest)
    assert "attachment:" not in source and "](../" not in source  # anexos e links relativos não aparecem no Colab


def test_figure_files_are_current():
    """figures/arquitetura*.png (o README mostra figures/arquitetura.png) vêm da descrição de hoje."""
    for description in DESCRIPTIONS.values():
        path = figures.FIGURES / f"{description['name']}.png"
        assert path.is_file(), f"falta {path.name}: {REGENERATE}"
        check_png(path.read_bytes(), figures.fingerprint(description))


def test_render_draws_a_sane_png(tmp_path):
    for chapter in [None, "05"]:
        png = figures.render(DESCRIPTIONS[chapter])
        (tmp_path / f"{chapter}.png").write_bytes(png)
        check_png(png, figures.fingerprint(DESCRIPTIONS[chapter]))


def dummy_notebook(path):
    code = nbformat.v4.new_code_cell("print('oi')", execution_count=1)
    text = "oi\n"
    image = {"image/png": base64.b64encode(tiny_png()).decode()}
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text),
                    nbformat.v4.new_output("display_data", data=image)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 03 · Título"), code,
                                         nbformat.v4.new_markdown_cell("Fim.")])
    nbformat.write(clean(nb), path)
    return nbformat.read(path, as_version=4)


def test_embed_is_idempotent_and_preserves_the_rest(tmp_path):
    path = tmp_path / "03_teste.ipynb"
    original = dummy_notebook(path)
    description = DESCRIPTIONS["03"]
    assert figures.embed(path, "03", description, tiny_png()) is True
    nb = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code", "markdown"]
    assert nb.cells[1].source.startswith(figures.MARKER)
    assert figures.read_figure_cell(nb.cells[1].source)[:2] == ("03", figures.fingerprint(description))
    assert nb.cells[0] == original.cells[0] and nb.cells[2:] == original.cells[1:]  # saídas intactas
    assert nb.metadata == original.metadata and "id" not in nb.cells[1]
    nbformat.validate(nb)

    written = path.read_bytes()
    assert figures.embed(path, "03", description, tiny_png()) is False
    assert path.read_bytes() == written, "rodar de novo mudou o notebook"

    # Uma figura velha (ou fora do lugar) é trocada pela de hoje, e só fica uma.
    nb.cells.append(nb.cells.pop(1))
    nb.cells[-1].source = nb.cells[-1].source.replace("sha256:", "sha256:0", 1)
    nbformat.write(nb, path)
    assert figures.embed(path, "03", description, tiny_png()) is True
    nb = nbformat.read(path, as_version=4)
    assert figures.find_figure_cells(nb) == [1]
    assert figures.read_figure_cell(nb.cells[1].source)[:2] == ("03", figures.fingerprint(description))
    assert figures.embed(path, "03", description, write=False) is False, "conferir acusa uma figura em dia"


def other_look(el, style):  # outro jeito de pintar os elementos (no nível do módulo: inspect lê o código dele)
    return {"edge": "#000000", "fill": "#FFFFFF", "text": "#000000", "lw": 3.0, "weight": "bold", "ls": "-"}


def test_drawing_code_is_part_of_the_fingerprint(monkeypatch):
    """Mudar o traço (e não só a descrição) também deixa a figura guardada desatualizada."""
    before = figures.fingerprint(figures.describe("05"))
    monkeypatch.setattr(figures, "_look", other_look)
    assert figures.fingerprint(figures.describe("05")) != before


def edited_copy(tmp_path, edit):
    """scripts/figures.py com o texto trocado por edit(texto), carregado como outro módulo."""
    path = tmp_path / "figures_editado.py"
    path.write_text(edit(Path(figures.__file__).read_text(encoding="utf-8")), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("figures_editado", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fingerprints(module):
    """As impressões digitais de todas as figuras, e a chave do gráfico de perda por etapa."""
    digests = {chapter: module.fingerprint(d) for chapter, d in module.all_descriptions().items()}
    return {**digests, "perdas": module._losses_key({"bigrama": 2.5, "GPT": 1.6})}


def other_comments_and_docstrings(source):
    """Outro texto em todo comentário e em toda docstring; o número de linhas e o código continuam os mesmos."""
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node) is not None:
            doc, indent = node.body[0], " " * node.body[0].col_offset
            n = doc.end_lineno - doc.lineno  # as linhas a mais da docstring ficam em branco
            other = [f'{indent}"""Outra docstring."""\n'] if n == 0 else [f'{indent}"""Outra docstring.\n',
                                                                          *["\n"] * (n - 1), f'{indent}"""\n']
            lines[doc.lineno - 1:doc.end_lineno] = other
    source = "".join(lines)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col] + "# outro comentário\n"
    return "".join(lines)


def test_comments_and_docstrings_are_not_part_of_the_fingerprint(tmp_path):
    """Mudar um comentário ou uma docstring não deixa figura nenhuma desatualizada."""
    edited = other_comments_and_docstrings(Path(figures.__file__).read_text(encoding="utf-8"))
    assert edited.count("# outro comentário") >= 10 and edited.count('"""Outra docstring.') > 10
    assert fingerprints(edited_copy(tmp_path, lambda _: edited)) == fingerprints(figures)


@pytest.mark.parametrize("statement,changed", [
    ("linespacing=1.1, zorder=5)", "linespacing=1.2, zorder=5)"),  # em render: os textos soltos
    ('"lw": 1.0, "weight": "normal"', '"lw": 1.2, "weight": "normal"'),  # em _look: o traço do que está apagado
])
def test_drawing_statements_are_part_of_the_fingerprint(tmp_path, statement, changed):
    """Mudar uma linha do código que desenha deixa desatualizadas as figuras que ela desenha."""
    def edit(source):
        assert source.count(statement) == 1, f"o teste procura `{statement}` uma vez em scripts/figures.py"
        return source.replace(statement, changed)

    before, after = fingerprints(figures), fingerprints(edited_copy(tmp_path, edit))
    stale = {key for key in before if before[key] != after[key]}
    assert stale == set(before) - {"perdas"}


def test_loss_chart_key_follows_the_chapter_05_function(monkeypatch):
    """O gráfico de perda por etapa é o plot_stage_losses do 05: mudar o código dele deixa o PNG velho; um
    comentário, não."""
    losses = {"bigrama": 2.5, "GPT": 1.6}
    cell = next(s for s in code_cells(notebook_path("05")) if "def plot_stage_losses(" in s)
    before = figures._losses_key(losses)
    monkeypatch.setattr(figures, "code_cells", lambda path: [cell.replace('"""', '"""Outra. ', 1) + "\n# outro"])
    assert figures._losses_key(losses) == before
    monkeypatch.setattr(figures, "code_cells", lambda path: [cell.replace("height=0.62", "height=0.5")])
    assert figures._losses_key(losses) != before


def test_loss_chart_is_current():
    """figures/perda_por_etapa.png mostra as perdas guardadas hoje (nbcode.stage_losses), com o código de hoje."""
    losses = stage_losses("cpu")
    assert list(losses) == list(STAGES)
    png = (figures.FIGURES / "perda_por_etapa.png").read_bytes()
    assert figures.png_text(png) == figures._losses_key(losses), REGENERATE


def test_check_mode_finds_the_figure_files_current():
    """`python scripts/figures.py --check --no-embed` não acusa nada com os PNG de hoje em figures/."""
    assert figures.main(["--check", "--no-embed"]) == 0, REGENERATE
