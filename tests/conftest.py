import os
import sys
from pathlib import Path

# Os kernels que o nbval abre herdam este ambiente.
os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"  # avisos sem caminhos /tmp/ipykernel_<pid>
os.environ.pop("MPLBACKEND", None)  # Agg herdado removeria as figuras das saídas
os.environ.setdefault("PYTHONHASHSEED", "0")
# Capítulo 06: os testes usam o GPT-2 pequeno montado na hora, nunca os ~500 MB do Hub (IMPGPT_OFFLINE=0 libera).
os.environ.setdefault("IMPGPT_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))  # nbcode, nbtool
