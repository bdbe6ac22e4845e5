"""Os números do README são os que os notebooks guardaram: a tabela de perdas e o tempo do GPT da CPU."""
import re

import pytest

from nbcode import ROOT, stage_losses, summary

README = (ROOT / "README.md").read_text(encoding="utf-8")
# etapa como o README a escreve -> etapa como o SUMMARY dos capítulos a chama (nbcode.STAGES)
README_STAGES = {
    "bigrama": "bigrama",
    "uma cabeça de atenção": "uma cabeça",
    "4 cabeças": "4 cabeças",
    "4 cabeças + feed-forward": "4 cabeças + feed-forward",
    "blocos + residual + LayerNorm": "blocos",
    "o GPT da CPU": "GPT",
}


def readme_losses():
    """{etapa: (perda, texto da célula)} da tabela "O que cada etapa mede"."""
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1] in README_STAGES:
            rows[README_STAGES[cells[1]]] = (float(re.match(r"([0-9]+,[0-9]+)", cells[3])[1].replace(",", ".")),
                                             cells[3])
    return rows


def test_readme_table_has_every_stage():
    assert set(readme_losses()) == set(README_STAGES.values())


@pytest.fixture(scope="module")
def stored_losses():
    return stage_losses("cpu")  # os SUMMARY guardados nos capítulos, lidos uma vez só


@pytest.mark.parametrize("stage", list(README_STAGES.values()))
def test_readme_loss_matches_the_stored_output(stage, stored_losses):
    stored = stored_losses[stage]
    quoted, text = readme_losses()[stage]
    assert quoted == pytest.approx(stored, abs=0.0051), (
        f"README diz {text} para '{stage}', mas o notebook guardou {stored:.4f}: atualize o README"
    )


def test_readme_cpu_training_time_matches_the_stored_output():
    found = summary("05")
    assert found["dispositivo"] == "cpu", "o README cita o tempo de treino na CPU"
    stored = found["segundos de treino (GPT)"]
    _, text = readme_losses()["GPT"]
    quoted = re.search(r"em ([0-9]+) s de treino", text)
    assert quoted and int(quoted[1]) == stored, f"README diz '{text}', o notebook guardou {stored} s"


def test_readme_machado_loss_matches_the_stored_output():
    """A linha do capítulo 07 na tabela: a perda no Machado é a que o capítulo guardou."""
    stored = summary("07")["perdas"]["Machado"]
    row = next(line for line in README.splitlines() if line.startswith("| 07 |"))
    quoted = float(re.search(r"\| ([0-9]+,[0-9]+) = ", row)[1].replace(",", "."))
    assert quoted == pytest.approx(stored, abs=0.0051), f"README diz {quoted}, o notebook guardou {stored}"
