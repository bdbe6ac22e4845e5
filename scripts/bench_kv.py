#!/usr/bin/env python3
"""Benchmark do cache de keys e values do capítulo 06: tokens por segundo gerando com e sem o cache.

    python scripts/bench_kv.py                         # o GPT do tamanho da GPU do capítulo 05, contextos 64 e 256
    python scripts/bench_kv.py --contexts 64 128 256 --repeats 5
    python scripts/bench_kv.py --n-layer 2 --n-head 4 --n-embd 64 --block-size 32 --contexts 16 32 --new-tokens 4

Para cada contexto, gera --new-tokens tokens depois de um prompt aleatório que leva o texto a ter `contexto`
tokens, com o `generate` do capítulo 02 (sem cache) e com o `generate_cached` do capítulo 06, e imprime os tokens
por segundo de cada um (a melhor de --repeats medidas), quantas vezes o cache é mais rápido e se os dois geraram
o mesmo texto com a mesma semente.

O modelo é o GPT do capítulo 05, de pesos aleatórios (a velocidade não depende do que os pesos sabem), em float32
e com lote 1; as dimensões padrão são as da configuração da GPU do capítulo 05. O código (GPT, generate,
generate_cached, tokens_per_second) vem das células de notebooks/06_gpts_de_verdade.ipynb (scripts/nbcode.py),
não de uma cópia.
"""
import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

from nbcode import definitions


def cpu_name():
    """O modelo da CPU, lido de /proc/cpuinfo no Linux; nos outros sistemas, o que o `platform` souber dizer."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "CPU desconhecida"


def parse_args(defaults):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contexts", type=int, nargs="+", default=[64, 256], help="tamanhos de contexto (64 256)")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens gerados por medida (32)")
    parser.add_argument("--repeats", type=int, default=3, help="medidas por caso; vale a mais rápida (3)")
    parser.add_argument("--device", default="cpu", help="cpu (padrão), cuda ou mps")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (padrão: o do PyTorch)")
    for name in ("n_layer", "n_head", "n_embd", "block_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=defaults[name],
                            help=f"dimensão do GPT (padrão {defaults[name]}, a da GPU do capítulo 05)")
    args = parser.parse_args()
    for context in args.contexts:
        if not args.new_tokens < context <= args.block_size:
            parser.error(f"cada contexto precisa ser maior que --new-tokens ({args.new_tokens}) e no máximo o "
                         f"--block-size ({args.block_size}), mas veio {context}")
    if args.repeats < 1:
        parser.error("--repeats precisa ser pelo menos 1")
    return args


def device_name(torch, device):
    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name()})"
    if device == "mps":
        return "mps (GPU da Apple)"
    return f"cpu ({cpu_name()})"


def main():
    start = time.perf_counter()
    ns = definitions("06")
    torch = ns["torch"]
    defaults = {f.name: f.default for f in dataclasses.fields(ns["GPTConfig"])}
    args = parse_args(defaults)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda pedido, mas o PyTorch não encontrou uma GPU CUDA.")
    sizes = {name: getattr(args, name) for name in ("n_layer", "n_head", "n_embd", "block_size")}
    torch.manual_seed(0)
    model = ns["GPT"](ns["GPTConfig"](vocab_size=defaults["vocab_size"], **sizes)).to(args.device).eval()
    label = "o GPT do tamanho da GPU do capítulo 05" if sizes == {k: defaults[k] for k in sizes} else "um GPT"
    print(f"dispositivo: {device_name(torch, args.device)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; Python {platform.python_version()}")
    print(f"modelo: {label}, pesos aleatórios: {args.n_layer} blocos, {args.n_head} cabeças, largura {args.n_embd}, "
          f"contexto {args.block_size}, vocabulário {defaults['vocab_size']}; "
          f"{ns['thousands'](model.num_params())} parâmetros (float32, lote 1)")
    print(f"medida: {args.new_tokens} tokens novos por geração, a melhor de {args.repeats}")
    ns["tokens_per_second"](ns["generate_cached"], model, args.contexts[0], args.new_tokens, repeats=1)  # aquece
    for context in args.contexts:
        plain, plain_text = ns["tokens_per_second"](ns["generate"], model, context, args.new_tokens, args.repeats)
        cached, cached_text = ns["tokens_per_second"](ns["generate_cached"], model, context, args.new_tokens,
                                                      args.repeats)
        same = "sim" if plain_text == cached_text else "NÃO"
        print(f"contexto {context:4}: sem cache {plain:8.1f} tokens/s, com cache {cached:8.1f} tokens/s, "
              f"{cached / plain:.2f}x; o mesmo texto: {same}")
    print(f"tempo total do processo: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
