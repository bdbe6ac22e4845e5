import os

from nbtool import prepare_kernel_env

# Os kernels que o nbval abre herdam este ambiente, o mesmo de `scripts/nbtool.py execute` e `run`.
prepare_kernel_env()
# Capítulo 06: os testes usam o GPT-2 pequeno montado na hora, nunca os ~500 MB do Hub (IMPGPT_OFFLINE=0 libera).
os.environ.setdefault("IMPGPT_OFFLINE", "1")
