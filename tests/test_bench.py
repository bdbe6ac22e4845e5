"""Os benchmarks rodam e imprimem os números que prometem (com poucos passos: aqui não se mede velocidade)."""
import subprocess
import sys

import pytest
import torch

from nbcode import ROOT


def run_script(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_cpu_bench_prints_its_figures():
    result = run_script("scripts/bench.py", "--steps", "20", "--eval-iters", "3", "--target", "4.5")
    assert result.returncode == 0, result.stderr
    for figure in ("tempo de treino:", "passos:", "tokens/s:", "perda de validação final:", "alvo <= 4.5: atingido"):
        assert figure in result.stdout, f"faltou '{figure}' na saída:\n{result.stdout}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="com GPU, o benchmark roda de verdade")
def test_gpu_bench_without_gpu_says_so():
    result = run_script("scripts/bench_gpu.py")
    assert result.returncode == 2
    assert "precisa de uma GPU NVIDIA" in result.stdout and "scripts/bench.py" in result.stdout
