"""Um capítulo roda sozinho no Colab, então cita como constante o resultado de um capítulo anterior. As citações
têm que bater com o que o capítulo de origem guardou no seu SUMMARY (o canal único dos resultados)."""
import pytest

from nbcode import STAGES, constant, stage_losses, summary

# (capítulo que cita, constante, chave dentro dela ou None, etapa citada)
QUOTES = [
    ("03", "BIGRAM_VAL", None, "bigrama"),
    ("04", "BIGRAM_VAL", None, "bigrama"),
    ("04", "ONE_HEAD_VAL", None, "uma cabeça"),
    *[("05", "EARLIER_STAGES", stage, stage) for stage in ("bigrama", "uma cabeça", "4 cabeças",
                                                           "4 cabeças + feed-forward")],
    ("07", "SHAKESPEARE_CPU_VAL", None, "GPT"),
]


def decimals(value):
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


@pytest.fixture(scope="module")
def stored():
    return stage_losses("cpu")


@pytest.mark.parametrize("chapter,name,key,stage", QUOTES, ids=[f"{q[0]}-{q[1]}-{q[3]}" for q in QUOTES])
def test_quoted_result_is_the_stored_one_rounded(chapter, name, key, stage, stored):
    value = constant(chapter, name)
    quoted = value if key is None else value[key]
    tolerance = 0.5 * 10 ** -decimals(quoted) + 1e-9  # a citação é o valor guardado, arredondado
    assert quoted == pytest.approx(stored[stage], abs=tolerance), (
        f"o capítulo {chapter} cita {name}{'' if key is None else f'[{key!r}]'} = {quoted}, mas o capítulo "
        f"{STAGES[stage]} guardou {stored[stage]} para '{stage}': atualize a constante"
    )


def test_every_chapter_summary_has_device_and_result():
    for chapter in ("01", "02", "03", "04", "05", "06", "07"):
        found = summary(chapter)
        assert found["dispositivo"] in ("cpu", "cuda", "mps") and found["resultado"], chapter
