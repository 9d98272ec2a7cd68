#!/usr/bin/env python3
"""PyTorch RPC anchor: rpc_sync(torch.add) on tiny tensors between two local processes.

Prints one JSON line: {"p50_us": ..., "p99_us": ..., "n": ...}.
Usage: /usr/bin/python3 bench/torch_rpc_bench.py [--requests N] [--port P]
"""
import argparse
import json
import os
import time

import torch
import torch.distributed.rpc as rpc
import torch.multiprocessing as mp


def _worker(rank, port, requests, out_path):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    opts = rpc.TensorPipeRpcBackendOptions(num_worker_threads=4, _transports=["uv"])
    rpc.init_rpc(f"w{rank}", rank=rank, world_size=2, rpc_backend_options=opts)
    if rank == 0:
        a = torch.ones(4)
        b = torch.ones(4)
        for _ in range(200):  # warm-up
            rpc.rpc_sync("w1", torch.add, args=(a, b))
        lat = []
        for _ in range(requests):
            t0 = time.perf_counter()
            rpc.rpc_sync("w1", torch.add, args=(a, b))
            lat.append(time.perf_counter() - t0)
        lat.sort()
        with open(out_path, "w") as f:
            json.dump({"p50_us": lat[len(lat) // 2] * 1e6,
                       "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6,
                       "n": len(lat)}, f)
    rpc.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--port", type=int, default=29517)
    args = ap.parse_args()
    out = f"/tmp/torch_rpc_bench_{os.getpid()}.json"
    mp.spawn(_worker, args=(args.port, args.requests, out), nprocs=2, join=True)
    with open(out) as f:
        print(f.read())
    os.remove(out)


if __name__ == "__main__":
    main()
