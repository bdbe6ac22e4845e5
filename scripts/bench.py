#!/usr/bin/env python3
"""Benchmark do capítulo 05: treina o GPT da CPU (o código do próprio notebook) e mede.

    python scripts/bench.py               # o GPT da CPU do capítulo nas duas metas: 40 s e 60 s de treino
    python scripts/bench.py --full        # e também com os passos do notebook (uns 2 minutos na CPU)
    python scripts/bench.py --baseline    # e, na mesma execução, a receita de CPU do nanoGPT, para comparar
    python scripts/bench.py --steps 600 --target 1.9   # um cronograma só, com os passos e o alvo pedidos

Para cada treino imprime o tempo de treino, os passos, os tokens por segundo, a perda de validação final e se
a meta (perda e tempo) foi atingida.

O modelo, o laço de treino e a configuração vêm das células de definição de notebooks/05_decoder_gpt.ipynb
(scripts/nbcode.py), não de uma cópia. O tempo de treino não conta as avaliações; a perda de validação final
é medida em lotes fixos da parte de validação (texto que o treino nunca viu), com o erro padrão da média.
"""
import argparse
import math
import time

from nbcode import ROOT, definitions

# As metas do capítulo numa CPU de 2 núcleos: validação <= 1.88 em <= 40 s de treino; a ousada, <= 1.75 em
# <= 60 s. Cada uma usa o mesmo modelo e a mesma configuração do notebook, com menos passos (o aquecimento e o
# cosseno se ajustam ao total): (passos, perda-alvo, segundos-alvo).
QUICK = (800, 1.88, 40)
STRETCH = (1200, 1.75, 60)

# A receita de CPU do README do nanoGPT (train_shakespeare_char com os ajustes para CPU), no nosso laço.
NANOGPT_CPU = {
    "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "batch_size": 12, "dropout": 0.0, "bias": False,
    "steps": 2000, "lr": 1e-3, "min_lr": 1e-4, "warmup": 100, "weight_decay": 0.1, "beta2": 0.99,
    "optimizer": "adamw", "amp": False, "fused": False, "compile": False,
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", action="store_true", help="roda também a receita de CPU do nanoGPT")
    parser.add_argument("--full", action="store_true", help="roda também os passos do notebook")
    parser.add_argument("--steps", type=int, default=None, help="um cronograma só, com estes passos")
    parser.add_argument("--target", type=float, default=QUICK[1], help="alvo com --steps (padrão 1.88)")
    parser.add_argument("--device", default="cpu", help="qual conjunto de CONFIGS usar (padrão: cpu)")
    parser.add_argument("--eval-iters", type=int, default=200, help="lotes de validação na medida final")
    parser.add_argument("--eval-batch-size", type=int, default=64, help="janelas por lote na medida final")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (padrão: o do PyTorch)")
    return parser.parse_args()


def final_val_loss(ns, model, val_data, block_size, args, device):
    """Perda média e erro padrão em eval_iters lotes fixos de validação (os mesmos lotes do estimate_loss)."""
    torch = ns["torch"]
    generator = torch.Generator().manual_seed(2024)
    losses = []
    model.eval()
    with torch.no_grad():
        for _ in range(args.eval_iters):
            xb, yb = ns["get_batch"](val_data, args.eval_batch_size, block_size, generator=generator, device=device)
            losses.append(model(xb, yb)[1].item())
    mean = sum(losses) / len(losses)
    std = math.sqrt(sum((v - mean) ** 2 for v in losses) / (len(losses) - 1))
    return mean, std / math.sqrt(len(losses))


def load_data(ns):
    """O texto do cache do projeto (ou de $IMPGPT_DATA_DIR), o tokenizer e as partes de treino e validação.

    O tokenizer também fica em ns["tokenizer"], como no notebook."""
    torch = ns["torch"]
    data_dir = None if ns["os"].environ.get("IMPGPT_DATA_DIR") else ROOT / "data"
    text = ns["download_dataset"](data_dir=data_dir).read_text(encoding="utf-8")
    ns["tokenizer"] = tokenizer = ns["CharTokenizer"](text)
    return tokenizer, ns["split_data"](torch.tensor(tokenizer.encode(text), dtype=torch.long))


def new_model(ns, cfg, vocab_size, device):
    """O GPT do notebook com as dimensões de `cfg`, sempre com a mesma semente."""
    ns["torch"].manual_seed(1337)
    config = ns["GPTConfig"](vocab_size=vocab_size, block_size=cfg["block_size"], n_layer=cfg["n_layer"],
                             n_head=cfg["n_head"], n_embd=cfg["n_embd"], dropout=cfg["dropout"],
                             bias=cfg.get("bias", True))
    return ns["GPT"](config).to(device)


def run(ns, name, cfg, data, args, device, target, seconds_target=None):
    train_data, val_data = data
    cfg = {**cfg, "eval_interval": cfg["steps"], "eval_iters": 1, "eval_batch_size": 1}  # só a medida final conta
    model = new_model(ns, cfg, ns["tokenizer"].vocab_size, device)
    print(f"\n{name}: {cfg['n_layer']} camadas, {cfg['n_head']} cabeças, largura {cfg['n_embd']}, "
          f"contexto {cfg['block_size']}, lote {cfg['batch_size']}; {model.num_params() / 1e6:.2f} M parâmetros")
    history = ns["train_gpt"](model, train_data, val_data, cfg, device, log=False)
    val, err = final_val_loss(ns, model, val_data, cfg["block_size"], args, device)
    result = {"seconds": history["seconds"], "steps": cfg["steps"], "tokens_per_s": history["tokens_per_s"], "val": val}
    print(f"  tempo de treino:  {history['seconds']:.1f} s (sem contar avaliações)")
    print(f"  passos:           {cfg['steps']} ({cfg['batch_size']} x {cfg['block_size']} tokens cada, "
          f"{1000 * history['seconds'] / cfg['steps']:.1f} ms por passo)")
    print(f"  tokens/s:         {ns['thousands'](round(history['tokens_per_s']))}")
    print(f"  perda de validação final: {val:.4f} ± {err:.4f} (erro padrão; {args.eval_iters} lotes de "
          f"{args.eval_batch_size} x {cfg['block_size']} tokens da validação)")
    verdict = "atingido" if val <= target else "NÃO atingido"
    if seconds_target is None:
        print(f"  alvo <= {target}: {verdict}")
    else:
        in_time = history["seconds"] <= seconds_target
        print(f"  alvo <= {target}: {verdict}; em <= {seconds_target} s de treino: {'sim' if in_time else 'NÃO'}")
    return result


def main():
    args = parse_args()
    start = time.perf_counter()
    ns = definitions("05")
    torch = ns["torch"]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    _, data = load_data(ns)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, dispositivo {device}")
    cfg = ns["CONFIGS"][device]
    if args.steps:
        schedules = [(args.steps, args.target, None)]
    else:
        schedules = [QUICK, STRETCH] + ([(cfg["steps"], cfg["target"], None)] if args.full else [])
    results = []
    for steps, target, seconds in schedules:
        name = f"GPT do capítulo 05 (CONFIGS['{device}'], {steps} passos)"
        results.append(run(ns, name, {**cfg, "steps": steps}, data, args, device, target, seconds))
    if args.baseline:
        base = run(ns, "receita de CPU do nanoGPT (2000 passos)", NANOGPT_CPU, data, args, device, QUICK[1])
        ours = results[0]
        print(f"\nna mesma execução: o capítulo ({ours['steps']} passos) treinou em {ours['seconds']:.1f} s até "
              f"{ours['val']:.4f}; a receita do nanoGPT, em {base['seconds']:.1f} s até {base['val']:.4f} "
              f"({base['seconds'] / ours['seconds']:.2f}x o tempo)")
    print(f"\ntempo total do processo: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
