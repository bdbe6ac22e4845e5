"""O que os testes, as figuras e os scripts leem dos notebooks, num lugar só (sem cópias: o notebook é a fonte).

- `ROOT`, `NOTEBOOKS` e `notebook_path("03")`: onde fica cada coisa;
- `summary("05")`: o `SUMMARY` que o capítulo imprimiu na última execução guardada, o canal dos resultados
  (perdas por etapa, tempos, dispositivo): ninguém lê resultados procurando frases nas saídas;

e duas formas de escolher células de código:
- `shared_cells(nb, "dados", ...)`: as células marcadas com a linha `# compartilhado: <nome>` (a primeira, ou a
  segunda quando a primeira é o título `#@title` que as fecha no Jupyter e no Colab);
- `definitions(nb)`: toda célula que só define coisas (imports, def, class e atribuições sem chamadas),
  ou seja, as células que não treinam nem imprimem nada, e os imports das outras células.
"""
import ast
import re
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
    "geração": "Geração: generate, sample e filter_logits, um token por vez (capítulo 02)",
    "avaliação": "Avaliação: estimate_loss, com lotes de avaliação fixos (capítulo 02)",
    "treino": "Treino: train, o laço de treino (capítulo 02)",
    "curvas de perda": "Curvas de perda: plot_history",
    "mapa de atenção": "Mapa de atenção: draw_matrix e char_labels",
    "cabeça de atenção": "Cabeça de atenção: Head (capítulo 03)",
    "multi-head": "Multi-head attention: MultiHeadAttention, cabeças em paralelo e W^O (capítulo 04)",
    "feed-forward": "Feed-forward: FeedForward, a rede de cada posição (capítulo 04)",
    "inicialização e contexto": "Inicialização e contexto: init_output_layer e check_context (capítulo 03)",
    "causalidade": "Causalidade: is_causal, o futuro não vaza (capítulo 03)",
    "atenção na linha inteira": "Atenção na linha inteira: line_attention (capítulo 03)",
    "gpt": "O GPT: GPTConfig, CausalSelfAttention, MLP, Block e GPT (capítulo 05)",
    "pré-tokenização": "Pré-tokenização: PRETOKEN e pretokenize (capítulo 01)",
    "bpe": "BPE: merge_pair, train_bpe e bpe_encode (capítulo 01)",
    "cronômetro": "Cronômetro: synchronize, para medir tempo na GPU (capítulo 05)",
    "ortogonalização": "Ortogonalização: orthogonalize, a iteração de Newton–Schulz (capítulo 05)",
    "muon": "Muon: o otimizador das matrizes (capítulo 05)",
    "treino do gpt": "Treino do GPT: train_gpt e o passo de treino, make_train_step (capítulo 05)",
}
COLLAPSED_ORIGINALS = {"erros", "dados", "cores", "curvas de perda", "mapa de atenção"}
TITLE_PREFIX = "#@title "


def title_line(name):
    return f'{TITLE_PREFIX}{SHARED_TITLES[name]} {{display-mode: "form"}}\n'


def without_title(source):
    """O código da célula sem a linha de título `#@title` (que só diz como a célula aparece)."""
    return source.split("\n", 1)[1] if source.startswith(TITLE_PREFIX) and "\n" in source else source


def chapter_paths():
    """Os capítulos, em ordem: notebooks/NN_*.ipynb."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def notebook_path(prefix):
    """notebook_path("03") -> notebooks/03_....ipynb"""
    matches = [path for path in chapter_paths() if path.name.startswith(f"{prefix}_")]
    if len(matches) != 1:
        raise FileNotFoundError(f"esperava um notebook {prefix}_*.ipynb, achei {matches}")
    return matches[0]


def summary_of(nb):
    """O dicionário SUMMARY da célula final do capítulo, lido do que ela imprimiu (`print(SUMMARY)`)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(r"^SUMMARY\s*=", cell.source, re.M):
            printed = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            if not printed.strip():
                raise LookupError("a célula do SUMMARY ainda não tem saída guardada: reexecute o capítulo")
            return ast.literal_eval(printed.strip().splitlines()[-1])
    raise LookupError("o notebook não tem a célula `SUMMARY = {...}`")


def summary(prefix):
    """summary("05") -> o SUMMARY guardado no capítulo 05 (veja summary_of)."""
    return summary_of(nbformat.read(notebook_path(prefix), as_version=4))


# As etapas da série e o capítulo que mede cada uma (as chaves de SUMMARY["perdas"]).
STAGES = {"bigrama": "02", "uma cabeça": "03", "4 cabeças": "04", "4 cabeças + feed-forward": "04",
          "blocos": "05", "GPT": "05"}


def stage_losses(device="cpu"):
    """{etapa: perda de validação final} de cada capítulo, pelos SUMMARY guardados, medidas em `device`."""
    losses = {}
    for chapter in sorted(set(STAGES.values())):
        found = summary(chapter)
        if found.get("dispositivo") != device:
            raise LookupError(f"o capítulo {chapter} guardou uma execução em {found.get('dispositivo')}, não {device}")
        losses.update(found["perdas"])
    return {stage: losses[stage] for stage in STAGES}


def constant(prefix, name):
    """O valor literal de `NAME = ...` no nível de cima de uma célula do notebook (as citações de outro capítulo)."""
    for source in code_cells(notebook_path(prefix)):
        try:
            tree = ast.parse(without_title(source))
        except SyntaxError:
            continue
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == name for t in stmt.targets):
                return ast.literal_eval(stmt.value)
    raise LookupError(f"{notebook_path(prefix).name} não define {name} = <valor literal>")


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
