#!/usr/bin/env python3
"""Ferramentas dos notebooks da série: limpar metadados, reexecutar guardando as saídas e rodar a série.

    python scripts/nbtool.py clean notebooks/*.ipynb       # metadados limpos e estáveis
    python scripts/nbtool.py execute notebooks/03_*.ipynb  # roda de cima a baixo e guarda as saídas no arquivo
    python scripts/nbtool.py run    # roda a série inteira numa cópia (build/) e resume os resultados
    python scripts/nbtool.py sync   # repete cada célula "# compartilhado: X" igual à original (e fechada) nos seguintes
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
CELL_METADATA_KEPT = ("tags", "jupyter", "cellView")
# Como uma célula fechada é marcada: JupyterLab e Notebook 7 leem "jupyter", o Colab lê "cellView" (com o #@title).
COLLAPSED_METADATA = {"jupyter": {"source_hidden": True}, "cellView": "form"}
SUMMARY_PROBE = "import json as _json\nprint('__SUMMARY__' + _json.dumps(globals().get('SUMMARY'), default=str))"


def clean(nb):
    """Metadados mínimos e estáveis: nada de versões, tempos de execução ou estado de widgets."""
    nb.nbformat_minor = 4
    nb.metadata = dict(NOTEBOOK_METADATA)
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in CELL_METADATA_KEPT}
        for output in cell.get("outputs", []):
            output.pop("transient", None)
        if "outputs" in cell:
            cell.outputs = merge_streams(cell.outputs)
    return nb


def merge_streams(outputs):
    """Junta textos seguidos do mesmo fluxo (stdout ou stderr) numa saída só.

    O kernel corta o que uma célula imprime em pedaços que mudam de uma execução para outra; juntos, o diff
    de uma reexecução mostra só o que mudou de fato. O nbval junta os fluxos do mesmo jeito antes de comparar.
    Devolve uma lista nova; as saídas recebidas ficam como estavam.
    """
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            merged[-1] = nbformat.NotebookNode({**previous, "text": previous["text"] + output["text"]})
        else:
            merged.append(output)
    return merged


def kernel_env():
    env = dict(os.environ)
    env["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"  # avisos sem caminhos /tmp/ipykernel_<pid>
    env.pop("MPLBACKEND", None)  # um backend Agg herdado apagaria as figuras das saídas
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def execute(nb, cwd, label, timeout=1800):
    """Executa o notebook num kernel novo, mostrando o progresso célula a célula."""
    from nbclient import NotebookClient

    n_code = sum(c.cell_type == "code" for c in nb.cells)
    done = {"n": 0}

    def on_cell_executed(cell, cell_index, execute_reply):
        if cell.cell_type == "code":
            done["n"] += 1
            print(f"\r  {label}: célula {done['n']}/{n_code}", end="", flush=True)

    os.environ.update(kernel_env())
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
        on_cell_executed=on_cell_executed,
        # Sem o aviso do ipykernel sobre TCP sem criptografia a cada capítulo: o kernel só escuta em 127.0.0.1.
        # Os avisos do código dos notebooks não passam por esse log; eles continuam nas saídas das células.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    print()
    return nb


def cmd_clean(paths):
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(clean(nb), path)


def cmd_execute(paths):
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        execute(nb, path.parent, path.name)
        nbformat.write(clean(nb), path)
        print(f"  {path.name}: {time.perf_counter() - start:.0f} s, saídas guardadas")


def shared_form(name, body, original):
    """(código, metadados) de uma célula compartilhada: fechada, com título, onde é recapitulação ou infraestrutura."""
    from nbcode import COLLAPSED_ORIGINALS, title_line

    collapsed = not original or name in COLLAPSED_ORIGINALS
    return (title_line(name) + body, dict(COLLAPSED_METADATA)) if collapsed else (body, {})


def cmd_sync():
    """Depois de editar uma célula compartilhada na original, repete-a igual (e fechada) nos capítulos seguintes."""
    from nbcode import shared_name, without_title

    originals = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        changed = []
        for cell in nb.cells:
            name = shared_name(cell.source) if cell.cell_type == "code" else None
            if name is None:
                continue
            original = name not in originals
            body = originals.setdefault(name, without_title(cell.source))
            source, metadata = shared_form(name, body, original)
            metadata.update({k: v for k, v in cell.metadata.items() if k not in COLLAPSED_METADATA})
            if (cell.source, cell.metadata) != (source, metadata):
                cell.source, cell.metadata = source, nbformat.NotebookNode(metadata)
                changed.append(name)
        if changed:
            nbformat.write(clean(nb), path)
            print(f"  {path.name}: atualizei {', '.join(changed)} (reexecute o notebook)")


def cmd_run(out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(SUMMARY_PROBE))
        start = time.perf_counter()
        try:
            execute(nb, NOTEBOOKS, path.stem)
        except Exception as error:  # mostra onde parou e segue resumindo o que rodou
            print(f"\n  {path.name} falhou: {type(error).__name__}: {str(error)[:2000]}")
            rows.append((path.stem, "—", "FALHOU", time.perf_counter() - start))
            continue
        elapsed = time.perf_counter() - start
        summary = {}
        for output in nb.cells[-1].get("outputs", []):
            text = output.get("text", "")
            if "__SUMMARY__" in text:
                summary = json.loads(text.split("__SUMMARY__", 1)[1]) or {}
        nb.cells.pop()
        nbformat.write(clean(nb), out_dir / path.name)
        rows.append((path.stem, summary.get("dispositivo", "?"), summary.get("resultado", "?"), elapsed))
    print("\nResumo da série")
    print(f"{'capítulo':32} {'dispositivo':12} {'tempo':>7}  resultado")
    for name, device, result, elapsed in rows:
        print(f"{name:32} {device:12} {elapsed:6.0f}s  {result}")
    print(f"\nNotebooks executados em {out_dir.relative_to(ROOT)}/")
    return 0 if all(r[2] != "FALHOU" for r in rows) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("clean").add_argument("paths", nargs="+")
    sub.add_parser("execute").add_argument("paths", nargs="+")
    sub.add_parser("sync")
    run = sub.add_parser("run")
    run.add_argument("--out", type=Path, default=ROOT / "build" / "executados")
    args = parser.parse_args()
    if args.command == "clean":
        cmd_clean(args.paths)
    elif args.command == "execute":
        cmd_execute(args.paths)
    elif args.command == "sync":
        cmd_sync()
    else:
        sys.exit(cmd_run(args.out))


if __name__ == "__main__":
    main()
