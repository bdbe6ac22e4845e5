# Implementando GPT: `make run` roda a série, `make test` roda os testes, `make lab` abre o JupyterLab.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Qual torch instalar. Padrão: o do PyPI. Sem GPU no Linux, a versão só-CPU é bem menor:
#   make test TORCH="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch

.PHONY: setup run test lint lab notebooks figures bench clean

setup: $(VENV)/.instalado

$(VENV)/.instalado: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Precisa de Python 3.10 ou mais novo.")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: setup
	$(PY) scripts/nbtool.py run

lint: setup
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

# Como root (contêineres, WSL), o JupyterLab só abre com --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: setup
	$(PY) -m pip install --quiet "jupyterlab>=4"
	$(PY) -m jupyter lab $(ROOT_FLAG) notebooks/

# Para quem edita a série: reexecuta os notebooks e guarda as saídas neles.
notebooks: setup
	$(PY) scripts/nbtool.py execute notebooks/[0-9][0-9]_*.ipynb

bench: setup
	$(PY) scripts/bench.py

figures: setup
	$(PY) scripts/figures.py

clean:
	rm -rf build
