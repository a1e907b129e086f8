#!/bin/bash
# Multi-node DDP without SLURM: run this script on every node, with the same MASTER_ADDR.
#   node 0:  NODE_RANK=0 NNODES=2 GPUS=4 MASTER_ADDR=10.0.0.1 bash scripts/torchrun.sh
#   node 1:  NODE_RANK=1 NNODES=2 GPUS=4 MASTER_ADDR=10.0.0.1 bash scripts/torchrun.sh
# torchrun starts one process per GPU and sets RANK/WORLD_SIZE/...; Lightning reads them
# (TorchElasticEnvironment), so trainer.devices and trainer.num_nodes must match GPUS and NNODES.
# Extra arguments go to the CLI, e.g. `bash scripts/torchrun.sh --config configs/padded.yaml`.
set -euo pipefail
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
GPUS=${GPUS:-1}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
ACCELERATOR=${ACCELERATOR:-gpu}   # cpu for a test on one machine (gloo)

exec torchrun \
    --nnodes "$NNODES" --node-rank "$NODE_RANK" --nproc-per-node "$GPUS" \
    --master-addr "$MASTER_ADDR" --master-port "$MASTER_PORT" \
    -m lstm_mnist fit \
    --config configs/default.yaml \
    --trainer.accelerator "$ACCELERATOR" \
    --trainer.strategy ddp \
    --trainer.devices "$GPUS" \
    --trainer.num_nodes "$NNODES" \
    "$@"
