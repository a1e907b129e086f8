#!/usr/bin/env bash
# The GPU measurements of README "Performance", as one short script for a lent GPU machine:
#   bash benchmarks/gpu.sh ../shared/datasets
# Epoch times at batch 128 and 1024 in fp32 and bf16-mixed, once more at batch 128 with the
# images in host memory (--data.on_device false: a copy per batch), then the GPU tests of the
# data path (fit on the GPU for two batches), then the pixel-sequence runs. Prints Markdown
# tables; writes results/pixels-gpu.{csv,md} and their runs under results/lightning_logs/.
set -euo pipefail
DATA=${1:-../shared/datasets}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for batch in 128 1024; do
  for precision in 32-true bf16-mixed; do
    echo "## batch $batch, precision $precision"
    python benchmarks/speed.py --data-dir "$DATA" --accelerator gpu --batch-size "$batch" \
      --precision "$precision" --repeats 3
  done
done
echo "## batch 128, precision 32-true, data in host memory"
python benchmarks/speed.py --data-dir "$DATA" --accelerator gpu --batch-size 128 --repeats 3 \
  -- --data.on_device false
python -m lstm_mnist fit --config configs/default.yaml --config configs/trainer/gpu.yaml \
  --data.data_dir "$DATA" --data.download false --trainer.fast_dev_run 2 \
  --trainer.logger false --trainer.callbacks '[]'
# Sequential and permuted MNIST with configs/pixels.yaml in full (issue "Records", item 4), one
# seed each, into results/pixels-gpu.{csv,md}; the literature is in the config's comment.
python -m lstm_mnist.experiments --grid pixels-gpu --seeds "[0]" --data_dir "$DATA"
