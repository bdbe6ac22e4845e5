"""Carrega o código dos próprios notebooks para os testes (sem cópias: o notebook é a fonte).

Duas formas de escolher células:
- `shared_cells(nb, "dados", ...)`: as células marcadas com a linha `# compartilhado: <nome>` (a primeira, ou a
  segunda quando a primeira é o título `#@title` que as fecha no Jupyter e no Colab);
- `definitions(nb)`: toda célula que só define coisas (imports, def, class e atribuições sem chamadas),
  ou seja, as células que não treinam nem imprimem nada, e os imports das outras células.
"""
import ast
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SHARED_PREFIX = "# compartilhado: "
# O título de cada célula compartilhada quando ela aparece fechada: nas seções "Recapitulando" dos capítulos
# seguintes e, para as de infraestrutura (COLLAPSED_ORIGINALS), também no capítulo onde nasce.
SHARED_TITLES = {
    "erros": "Erros em português: FriendlyError, DatasetError, VocabularyError",
    "dados": "Dados: o download do texto, com cache e checksum",
    "números": "Números: thousands, milhares separados por espaço nas saídas",
    "cores": "Cores: uma por componente do Transformer, em todos os gráficos",
    "tokenizer": "Tokenizer de caracteres: CharTokenizer (capítulo 01)",
    "lotes": "Lotes: split_data e get_batch (capítulo 01)",
    "dispositivo": "Dispositivo: pick_device, CUDA, depois MPS, senão CPU (capítulo 01)",
    "geração": "Geração: generate e sample, um caractere por vez (capítulo 02)",
    "avaliação": "Avaliação: estimate_loss, com lotes de avaliação fixos (capítulo 02)",
    "treino": "Treino: train, o laço de treino (capítulo 02)",
    "curvas de perda": "Curvas de perda: plot_history",
    "mapa de atenção": "Mapa de atenção: draw_matrix e char_labels",
    "cabeça de atenção": "Cabeça de atenção: Head (capítulo 03)",
    "inicialização e contexto": "Inicialização e contexto: init_output_layer e check_context (capítulo 03)",
    "causalidade": "Causalidade: is_causal, o futuro não vaza (capítulo 03)",
    "atenção na linha inteira": "Atenção na linha inteira: line_attention (capítulo 03)",
    "gpt": "O GPT: GPTConfig, CausalSelfAttention, MLP, Block e GPT (capítulo 05)",
    "pré-tokenização": "Pré-tokenização: PRETOKEN e pretokenize (capítulo 01)",
    "bpe": "BPE: merge_pair, train_bpe e bpe_encode (capítulo 01)",
    "cronômetro": "Cronômetro: synchronize, para medir tempo na GPU (capítulo 05)",
    "ortogonalização": "Ortogonalização: orthogonalize, a iteração de Newton–Schulz (capítulo 05)",
    "muon": "Muon: o otimizador das matrizes (capítulo 05)",
    "treino do gpt": "Treino do GPT: train_gpt, com lr_at, make_optimizers, autocast_dtype e maybe_compile",
}
COLLAPSED_ORIGINALS = {"erros", "dados", "cores", "curvas de perda", "mapa de atenção"}
TITLE_PREFIX = "#@title "


def title_line(name):
    return f'{TITLE_PREFIX}{SHARED_TITLES[name]} {{display-mode: "form"}}\n'


def without_title(source):
    """O código da célula sem a linha de título `#@title` (que só diz como a célula aparece)."""
    return source.split("\n", 1)[1] if source.startswith(TITLE_PREFIX) and "\n" in source else source


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
    first = without_title(source).split("\n", 1)[0]
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


def only_imports(source):
    """Só os imports de uma célula que também faz outras coisas (as mágicas do IPython não são Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(s) for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom)))


def definitions(prefix):
    """Executa, em ordem, as células de definição do notebook (e os imports das outras) e devolve o namespace."""
    path = notebook_path(prefix)
    return _exec([s if is_definition(s) else only_imports(s) for s in code_cells(path)], path)
