#!/usr/bin/env python3
"""Na GPU: quanto o torch.compile rende no GPT da configuração `cuda` do capítulo 05, e o caminho float16.

    python scripts/bench_gpu.py                 # ms por passo com e sem torch.compile, e float16 contra bfloat16
    python scripts/bench.py --device cuda --full    # o treino completo da configuração cuda (perda e tempo)

1. Passos de treino do modelo grande (6 camadas, largura 384, lote 64 x 256) dados pelo `make_train_step` do
   notebook, o mesmo passo do `train_gpt`, com e sem `torch.compile`: o tempo dos primeiros passos (a
   compilação entra aí) e os ms por passo depois deles.
2. O caminho das placas sem bfloat16 (a T4 do Colab): `float16` com `GradScaler`, escolhido pela chave `amp_dtype`
   da configuração, contra o `bfloat16`, em poucos passos do `train_gpt`; as duas perdas devem ficar juntas.

Usa o código do próprio notebook (scripts/nbcode.py). Precisa de uma GPU NVIDIA com CUDA.
"""
import argparse
import sys
import time

from bench import load_data, new_model
from nbcode import definitions


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", type=int, default=30, help="passos antes de cronometrar (a compilação entra aqui)")
    parser.add_argument("--reps", type=int, default=200, help="passos cronometrados")
    parser.add_argument("--steps", type=int, default=300, help="passos do treino float16 contra bfloat16")
    return parser.parse_args(argv)


def step_time(ns, cfg, vocab_size, train_data, warmup, reps):
    """(segundos dos primeiros passos, ms por passo depois deles) com o passo de treino do próprio notebook."""
    torch = ns["torch"]
    model = new_model(ns, cfg, vocab_size, "cuda")
    step = ns["make_train_step"](model, cfg, "cuda")
    generator = torch.Generator().manual_seed(0)

    def one_step():
        xb, yb = ns["get_batch"](train_data, cfg["batch_size"], cfg["block_size"], generator=generator, device="cuda")
        step(xb, yb)

    start = time.perf_counter()
    for _ in range(warmup):
        one_step()
    torch.cuda.synchronize()
    middle = time.perf_counter()
    for _ in range(reps):
        one_step()
    torch.cuda.synchronize()
    return middle - start, 1000 * (time.perf_counter() - middle) / reps


def main(argv=None):
    args = parse_args(argv)
    ns = definitions("05")
    torch = ns["torch"]
    if not torch.cuda.is_available():
        print("Este benchmark precisa de uma GPU NVIDIA com CUDA, e o PyTorch não encontrou nenhuma. "
              "Na CPU, use python scripts/bench.py.")
        return 2
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    tokenizer, (train_data, val_data) = load_data(ns)
    base = ns["CONFIGS"]["cuda"]
    amp_dtype = ns["autocast_dtype"](base, "cuda")  # a escolha do próprio notebook: bfloat16 nativo, senão float16
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, precisão mista do notebook: {amp_dtype}")

    print(f"\n1. torch.compile: {args.warmup} passos de aquecimento, depois {args.reps} cronometrados ({amp_dtype})")
    times = {}
    for compile_ in (False, True):
        first, ms = step_time(ns, {**base, "compile": compile_}, tokenizer.vocab_size, train_data, args.warmup,
                              args.reps)
        times[compile_] = ms
        print(f"   {'com' if compile_ else 'sem'} compile: primeiros passos {first:5.1f} s, depois {ms:6.2f} ms/passo")
    print(f"   o compile deixou cada passo {100 * (1 - times[True] / times[False]):.0f}% mais rápido")

    print(f"\n2. float16 + GradScaler contra bfloat16: {args.steps} passos do train_gpt, mesma semente")
    for name, amp_dtype in (("float16 + GradScaler", "float16"), ("bfloat16", "bfloat16")):
        cfg = {**base, "amp_dtype": amp_dtype, "steps": args.steps, "eval_interval": args.steps, "eval_iters": 100}
        model = new_model(ns, cfg, tokenizer.vocab_size, "cuda")
        history = ns["train_gpt"](model, train_data, val_data, cfg, "cuda", log=False)
        print(f"   {name:22} ({ns['autocast_dtype'](cfg, 'cuda')}): validação {history['val'][0]:.4f} -> "
              f"{history['val'][-1]:.4f} em {history['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
