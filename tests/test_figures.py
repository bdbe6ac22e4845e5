"""A figura da arquitetura no topo de cada capítulo é a que scripts/figures.py desenha hoje.

Bytes de PNG mudam de uma versão do matplotlib para outra, então não comparamos imagens: comparamos o que foi
desenhado. O script monta uma descrição declarativa de cada figura (caixas, textos, cores, o que está em destaque,
a legenda e a legenda da célula); a impressão digital (SHA-256) dela vai no comentário da célula e nos metadados do
PNG. Mudou o desenho e ninguém rodou `make figures`? Os testes abaixo acusam.
"""
import base64
import io

import nbformat
import pytest
from PIL import Image

import figures
from nbcode import shared_cells
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
    assert figures.png_fingerprint(png) == digest, "o PNG não é o da descrição de hoje"


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
    if figures.chapter_notebook("01") is None:
        pytest.skip("notebooks/01_*.ipynb ainda não existe: sem a célula `cores` original para comparar")
    assert shared_cells("01", "cores")["COLORS"] == figures.COLORS, (
        "scripts/figures.py e a célula `# compartilhado: cores` do capítulo 01 têm paletas diferentes"
    )


@pytest.mark.parametrize("chapter", list(figures.CHAPTERS))
def test_chapter_shows_its_current_figure(chapter):
    path = figures.chapter_notebook(chapter)
    if path is None:
        pytest.skip(f"notebooks/{chapter}_*.ipynb ainda não existe")
    nb = nbformat.read(path, as_version=4)
    found = figures.find_figure_cells(nb)
    assert found, f"{path.name} não tem a figura da arquitetura: {REGENERATE}"
    assert len(found) == 1, f"{path.name} tem {len(found)} figuras da arquitetura: {REGENERATE}"
    assert nb.cells[0].cell_type == "markdown" and found == [1], (
        f"{path.name}: a figura deve vir logo depois do título: {REGENERATE}"
    )
    source = nb.cells[1].source
    digest = figures.fingerprint(DESCRIPTIONS[chapter])
    assert figures.cell_fingerprint(source) == (chapter, digest), (
        f"{path.name}: a figura guardada não é a que o script desenha hoje: {REGENERATE}"
    )
    png = figures.cell_png(source)
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
    text = "oi\nperda de validação final (bigrama): 2.4912\n"
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
    assert figures.cell_fingerprint(nb.cells[1].source) == ("03", figures.fingerprint(description))
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
    assert figures.cell_fingerprint(nb.cells[1].source) == ("03", figures.fingerprint(description))


def test_losses_are_read_from_stored_outputs(tmp_path):
    dummy_notebook(tmp_path / "02_teste.ipynb")
    assert figures.losses_from_notebooks(tmp_path) == {"bigrama": 2.4912}


def test_drawing_code_is_part_of_the_fingerprint(monkeypatch):
    """Mudar o traço (e não só a descrição) também deixa a figura guardada desatualizada."""
    before = figures.fingerprint(figures.describe("05"))

    def _look(el, style):  # outro jeito de pintar os elementos
        return {"edge": "#000000", "fill": "#FFFFFF", "text": "#000000", "lw": 3.0, "weight": "bold", "ls": "-"}

    monkeypatch.setattr(figures, "_look", _look)
    assert figures.fingerprint(figures.describe("05")) != before


def test_loss_chart_is_current():
    """figures/perda_por_etapa.png mostra as perdas guardadas hoje nos notebooks, desenhadas pelo código de hoje."""
    losses = figures.losses_from_notebooks()
    assert list(losses) == list(figures.STAGES), f"etapas sem perda final guardada: {set(figures.STAGES) - set(losses)}"
    png = (figures.FIGURES / "perda_por_etapa.png").read_bytes()
    assert figures._png_text(png) == figures._losses_key(losses), REGENERATE
