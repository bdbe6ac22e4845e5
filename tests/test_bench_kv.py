"""O benchmark do cache (scripts/bench_kv.py) roda num GPT minúsculo e imprime os números que promete."""
import re
import subprocess
import sys

from nbcode import ROOT


def run_bench(*args):
    return subprocess.run([sys.executable, "scripts/bench_kv.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_bench_kv_prints_its_figures():
    result = run_bench("--n-layer", "2", "--n-head", "4", "--n-embd", "32", "--block-size", "32",
                       "--contexts", "16", "32", "--new-tokens", "4", "--repeats", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for figure in ("dispositivo: cpu (", "torch ", " threads", "modelo: um GPT, pesos aleatórios: 2 blocos",
                   "parâmetros (float32, lote 1)", "medida: 4 tokens novos por geração"):
        assert figure in out, f"faltou '{figure}' na saída:\n{out}"
    rows = re.findall(r"contexto +(\d+): sem cache +([\d.]+) tokens/s, com cache +([\d.]+) tokens/s, "
                      r"([\d.]+)x; o mesmo texto: (sim|NÃO)", out)
    assert [r[0] for r in rows] == ["16", "32"], out
    for _, plain, cached, speedup, same in rows:
        assert float(plain) > 0 and float(cached) > 0 and float(speedup) > 0
        assert same == "sim"
    assert "/" not in out.split("dispositivo:", 1)[1].splitlines()[0].split("(", 1)[0]


def test_bench_kv_refuses_a_context_that_does_not_fit():
    result = run_bench("--block-size", "32", "--contexts", "64", "--n-layer", "1", "--n-embd", "32", "--n-head", "4")
    assert result.returncode == 2
    assert "no máximo o --block-size (32)" in result.stderr
