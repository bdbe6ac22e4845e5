"""O gráfico de perda por etapa do capítulo 05 repete números dos capítulos 02 a 04: eles têm que bater."""
import re

import nbformat
import pytest

from nbcode import NOTEBOOKS, definitions

STAGES = {"bigrama": "02", "uma cabeça": "03", "4 cabeças": "04", "4 cabeças + feed-forward": "04"}
LINE = re.compile(r"perda de validação final \((?P<stage>[^)]+)\): (?P<val>\d+\.\d+)")


def printed_losses(prefix):
    """Os valores `perda de validação final (<etapa>): X` nas saídas guardadas do notebook `prefix`."""
    paths = sorted(NOTEBOOKS.glob(f"{prefix}_*.ipynb"))
    if not paths:
        pytest.skip(f"o notebook {prefix} ainda não existe em notebooks/")
    nb = nbformat.read(paths[0], as_version=4)
    if not any(cell.get("outputs") for cell in nb.cells):
        pytest.skip(f"{paths[0].name} ainda não tem saídas guardadas (rode scripts/nbtool.py execute)")
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for match in LINE.finditer(output.get("text", "")):
                found[match["stage"]] = float(match["val"])
    return found


@pytest.mark.parametrize("stage", list(STAGES))
def test_earlier_stage_constants_match_their_notebooks(stage):
    constants = definitions("05")["EARLIER_STAGES"]
    printed = printed_losses(STAGES[stage])
    assert stage in printed, f"o notebook {STAGES[stage]} não imprime 'perda de validação final ({stage}): ...'"
    assert constants[stage] == pytest.approx(printed[stage], abs=0.005), (
        f"EARLIER_STAGES['{stage}'] = {constants[stage]} no capítulo 05, mas o capítulo {STAGES[stage]} "
        f"imprime {printed[stage]}: atualize a constante"
    )


def test_chapter_07_quotes_the_shakespeare_gpt_of_chapter_05():
    """O capítulo 07 compara o Machado com o GPT da CPU do 05 no Shakespeare, repetido como constante."""
    quoted = definitions("07")["SHAKESPEARE_CPU_VAL"]
    printed = printed_losses("05")
    assert "GPT" in printed, "o capítulo 05 não imprime 'perda de validação final (GPT): ...'"
    assert quoted == pytest.approx(printed["GPT"], abs=0.00005), (
        f"SHAKESPEARE_CPU_VAL = {quoted} no capítulo 07, mas o capítulo 05 guardou {printed['GPT']}: "
        "atualize a constante"
    )
