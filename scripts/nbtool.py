#!/usr/bin/env python3
"""Ferramentas dos notebooks da série: limpar metadados, reexecutar guardando as saídas e rodar a série.

    python scripts/nbtool.py clean notebooks/*.ipynb       # metadados limpos e estáveis
    python scripts/nbtool.py execute notebooks/03_*.ipynb  # roda de cima a baixo e guarda as saídas no arquivo
    python scripts/nbtool.py run    # roda a série inteira numa cópia (build/) e resume os resultados
    python scripts/nbtool.py sync   # repete cada célula "# compartilhado: X" igual à original (e fechada) nos seguintes
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

from nbcode import (
    COLLAPSED_ORIGINALS,
    NOTEBOOKS,
    ROOT,
    chapter_paths,
    shared_name,
    summary_of,
    title_line,
    without_title,
)

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
CELL_METADATA_KEPT = ("tags", "jupyter", "cellView")
# Como uma célula fechada é marcada: JupyterLab e Notebook 7 leem "jupyter", o Colab lê "cellView" (com o #@title).
COLLAPSED_METADATA = {"jupyter": {"source_hidden": True}, "cellView": "form"}


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


def prepare_kernel_env(environ=os.environ):
    """O ambiente que os kernels herdam, aqui e nos testes (tests/conftest.py): o mesmo nos dois caminhos."""
    environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"  # avisos sem caminhos /tmp/ipykernel_<pid>
    environ.pop("MPLBACKEND", None)  # um backend Agg herdado apagaria as figuras das saídas
    environ.setdefault("PYTHONHASHSEED", "0")


def execute(nb, cwd, label, timeout=1800):
    """Executa o notebook num kernel novo, mostrando o progresso célula a célula."""
    from nbclient import NotebookClient

    n_code = sum(c.cell_type == "code" for c in nb.cells)
    done = {"n": 0}

    def on_cell_executed(cell, cell_index, execute_reply):
        if cell.cell_type == "code":
            done["n"] += 1
            print(f"\r  {label}: célula {done['n']}/{n_code}", end="", flush=True)

    prepare_kernel_env()
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
    collapsed = not original or name in COLLAPSED_ORIGINALS
    return (title_line(name) + body, dict(COLLAPSED_METADATA)) if collapsed else (body, {})


def cmd_sync():
    """Depois de editar uma célula compartilhada na original, repete-a igual (e fechada) nos capítulos seguintes."""
    originals = {}
    for path in chapter_paths():
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
    for path in chapter_paths():
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        try:
            execute(nb, NOTEBOOKS, path.stem)
        except Exception as error:  # mostra onde parou e segue resumindo o que rodou
            print(f"\n  {path.name} falhou: {type(error).__name__}: {str(error)[:2000]}")
            rows.append((path.stem, "—", "FALHOU", time.perf_counter() - start))
            continue
        elapsed = time.perf_counter() - start
        summary = summary_of(nb)  # o SUMMARY que o capítulo imprimiu: o mesmo canal dos testes e das figuras
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
