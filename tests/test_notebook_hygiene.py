"""Os notebooks como o leitor os encontra no GitHub: formato válido, saídas de uma execução limpa, metadados limpos."""
import ast
import re

import nbformat
import pytest

from nbcode import (
    COLLAPSED_ORIGINALS,
    SHARED_PREFIX,
    TITLE_PREFIX,
    chapter_paths,
    code_cells,
    shared_name,
    summary_of,
    without_title,
)
from nbtool import CELL_METADATA_KEPT, COLLAPSED_METADATA, NOTEBOOK_METADATA, merge_streams, shared_form

PATHS = chapter_paths()
LOCAL_PATH = re.compile(r"(/home/|/root/|/tmp/|/work/|/Users/|[A-Za-z]:\\\\Users|/content/|/private/var/)")


def test_series_exists():
    assert PATHS, "nenhum notebook em notebooks/"
    numbers = [p.name[:2] for p in PATHS]
    assert numbers == sorted(set(numbers)), f"numeração repetida: {numbers}"


@pytest.fixture(params=PATHS, ids=lambda p: p.name)
def nb(request):
    return nbformat.read(request.param, as_version=4)


def test_valid_nbformat(nb):
    nbformat.validate(nb)


def test_clean_metadata(nb):
    assert nb.metadata == NOTEBOOK_METADATA
    for i, cell in enumerate(nb.cells):
        extra = set(cell.metadata) - set(CELL_METADATA_KEPT)
        assert not extra, f"célula {i}: metadados soltos {extra}"
        assert "id" not in cell, f"célula {i}: id de célula (gera ruído nos diffs)"


def test_streams_are_merged(nb):
    """Cada fluxo (stdout, stderr) vira uma saída só por trecho: o corte em pedaços muda a cada execução."""
    for i, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        assert len(merge_streams(outputs)) == len(outputs), (
            f"célula {i}: um fluxo de texto guardado em pedaços (rode scripts/nbtool.py clean)")


def test_merge_streams_keeps_order_and_text():
    out = lambda name, text: nbformat.v4.new_output("stream", name=name, text=text)
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    outputs = [out("stdout", "a\n"), out("stdout", "b\n"), out("stderr", "aviso\n"),
               out("stdout", "c\n"), figure, out("stdout", "d\n")]
    merged = merge_streams(outputs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "aviso\n"), ("stream", "stdout", "c\n"),
        ("display_data", None, None), ("stream", "stdout", "d\n"),
    ]
    assert outputs[0].text == "a\n"  # as saídas recebidas não mudam


def test_outputs_from_one_clean_run(nb):
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), (
        "as saídas guardadas não vêm de uma execução limpa de cima a baixo (rode scripts/nbtool.py execute)"
    )


def test_no_errors_nor_local_paths(nb):
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"célula {i} guardou um erro: {output.get('ename')}"
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert not LOCAL_PATH.search(text), f"célula {i}: caminho local na saída: {LOCAL_PATH.search(text)[0]}"


def test_every_chapter_sets_its_summary(nb):
    """`make run` lê SUMMARY = {"dispositivo": ..., "resultado": ...} no fim de cada capítulo (nbcode.summary_of)."""
    assert {"dispositivo", "resultado"} <= set(summary_of(nb))


def test_restated_cells_match_their_original():
    """Uma célula `# compartilhado: X` repetida num capítulo posterior é idêntica à original (a primeira)."""
    originals = {}
    for path in PATHS:
        for source in code_cells(path):
            name = shared_name(source)
            if name is None:
                continue
            if name not in originals:
                originals[name] = (path.name, without_title(source))
            else:
                first, original = originals[name]
                assert without_title(source) == original, (
                    f"{path.name}: a célula '{SHARED_PREFIX}{name}' difere da original em {first} "
                    "(scripts/nbtool.py sync a repete igual)"
                )


def test_recaps_and_infrastructure_open_collapsed():
    """Recapitulações e infraestrutura abrem fechadas (Jupyter e Colab), com uma linha de título;
    o código que o capítulo ensina abre aberto no capítulo onde nasce."""
    seen, collapsed = set(), 0
    for path in PATHS:
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            name = shared_name(cell.source) if cell.cell_type == "code" else None
            if name is None:
                continue
            source, metadata = shared_form(name, without_title(cell.source), original=name not in seen)
            seen.add(name)
            shown = {k: v for k, v in cell.metadata.items() if k in COLLAPSED_METADATA}
            assert (cell.source, shown) == (source, metadata), (
                f"{path.name}, célula {i} ('{name}'): título ou metadados de célula fechada fora do lugar "
                "(scripts/nbtool.py sync os acerta)")
            collapsed += cell.source.startswith(TITLE_PREFIX)
    assert COLLAPSED_ORIGINALS <= seen and collapsed > len(seen)


def drifted_names(chapters):
    """Nomes de classe ou função do nível de cima definidos com código diferente em dois lugares.

    `chapters`: {nome do capítulo: [código de cada célula]}. O código é comparado pela árvore sintática (ast),
    então comentários e o título #@title não contam; docstrings e qualquer linha de código contam.
    """
    first, drifted = {}, []
    for chapter, sources in chapters.items():
        for source in sources:
            try:
                tree = ast.parse(without_title(source))
            except SyntaxError:  # mágicas do IPython
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    where, code = first.setdefault(node.name, (chapter, ast.dump(node)))
                    if code != ast.dump(node):
                        drifted.append(f"{node.name}: {where} e {chapter}")
    return drifted


def test_one_name_one_definition_in_the_whole_series():
    """GUIDE §4: um nome quer dizer uma coisa só. Outra forma de uma peça ganha outro nome."""
    drifted = drifted_names({path.name: code_cells(path) for path in PATHS})
    assert not drifted, "mesmo nome, código diferente: " + "; ".join(drifted)


def test_drift_check_catches_a_changed_piece():
    same = "class Head:\n    def forward(self, x):\n        return x  # comentário\n"
    changed = "class Head:\n    def forward(self, x):\n        return 2 * x\n"
    assert drifted_names({"03": [same], "05": [same.replace("# comentário", "")]}) == []
    assert drifted_names({"03": [same], "05": [changed]}) == ["Head: 03 e 05"]
