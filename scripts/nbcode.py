"""Carrega o código dos próprios notebooks para os testes (sem cópias: o notebook é a fonte).

Duas formas de escolher células:
- `shared_cells(nb, "dados", ...)`: as células que começam com a linha `# compartilhado: <nome>`;
- `definitions(nb)`: toda célula que só define coisas (imports, def, class e atribuições sem chamadas),
  ou seja, as células que não treinam nem imprimem nada.
"""
import ast
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SHARED_PREFIX = "# compartilhado: "


def notebook_path(prefix):
    """notebook_path("03") -> notebooks/03_....ipynb"""
    matches = sorted(NOTEBOOKS.glob(f"{prefix}_*.ipynb"))
    if len(matches) != 1:
        raise FileNotFoundError(f"esperava um notebook {prefix}_*.ipynb, achei {matches}")
    return matches[0]


def code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def shared_name(source):
    first = source.split("\n", 1)[0]
    return first[len(SHARED_PREFIX):].strip() if first.startswith(SHARED_PREFIX) else None


def _has_call(node):
    return any(isinstance(n, ast.Call) for n in ast.walk(node))


def is_definition(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:  # mágicas do IPython (%, !): não são definições
        return False
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    for stmt in tree.body:
        if isinstance(stmt, allowed):
            continue
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and not _has_call(stmt.value):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        return False
    return bool(tree.body)


def _exec(sources, path, namespace=None):
    namespace = {"__name__": f"notebook_{path.stem}"} if namespace is None else namespace
    for i, source in enumerate(sources):
        exec(compile(source, f"{path.name}[{i}]", "exec"), namespace)
    return namespace


def shared_cells(prefix, *names):
    path = notebook_path(prefix)
    chosen = [s for s in code_cells(path) if shared_name(s) in names]
    found = {shared_name(s) for s in chosen}
    missing = set(names) - found
    if missing:
        raise LookupError(f"{path.name} não tem as células compartilhadas {sorted(missing)}")
    return _exec(chosen, path)


def definitions(prefix):
    """Executa, em ordem, todas as células de definição do notebook e devolve o namespace."""
    path = notebook_path(prefix)
    return _exec([s for s in code_cells(path) if is_definition(s)], path)
