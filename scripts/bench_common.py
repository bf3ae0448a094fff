"""What scripts/bench_d2s_step.py and scripts/bench_joint_step.py share: their flags, the
torch set-up they imply, and timing one step function the same way (two warm-up calls, then the
median of --steps timed calls, synchronising the GPU around each)."""
import argparse
import json
import statistics
import time

import torch


def setup():
    """Parse the shared flags and apply them (threads, subnormal flushing, default device)."""
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = p.parse_args()
    if args.flush_denormal:
        assert torch.set_flush_denormal(True), "this CPU cannot flush subnormals"
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_default_device(torch.device(args.device))
    if not args.json:
        print(f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads")
    return args


def time_and_report(args, name, fn):
    """Time `fn` and print its line (or JSON object)."""
    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(2):
        fn()
    times = []
    for _ in range(args.steps):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    if args.json:
        print(json.dumps({"name": name, "median_ms": med * 1e3, "min_ms": min(times) * 1e3,
                          "steps": args.steps, "threads": torch.get_num_threads(),
                          "flush_denormal": args.flush_denormal, "device": args.device,
                          "torch": torch.__version__}), flush=True)
        return
    print(f"{name}: {med * 1e3:.1f} ms/step, {1 / med:.2f} steps/s "
          f"(min {min(times) * 1e3:.1f} ms over {args.steps} steps)")
