#!/bin/bash
# Issue 14: the TNGD paper's experiments in its own setting (MNIST, PyTorch-default init, 10 epochs,
# 5 seeds, the 200-point moving average of the mini-batch loss), each TNGD configuration in the
# paper's x0 mode (reset when td = 0) and with the warm start of Algorithm 1 beside it; t = 50 tau
# of groups a and b also on the factored circuit twin (8-bit resistors, 300 K Johnson noise).
# Runs already in runs/ are skipped, so the sweeps resume. The two sweeps can run side by side
# (one core each); --seeds splits a sweep across more processes.
cd "$(dirname "$0")/../../../.."
export OPENBLAS_NUM_THREADS=1
COMMON="--dataset mnist --init pytorch --x0 paper,warm --smooth 200 --n-train 4000 --n-test 1000 --epochs 10
        --twin-bits 8 --jobs 1 --out examples/results/paper/mnist"
python examples/paper_experiments.py --groups a,b,c,d --runs ideal --seeds 0,1,2,3,4 $COMMON  # ~100 runs, 1-2 min each
python examples/paper_experiments.py --groups a,b --runs twin --twin-seeds 0,1 $COMMON       # ~30 min each
# group e without training: the twin's natural-gradient error against resistor bits on one batch
python examples/paper_experiments.py --groups e --seeds 0,1,2 --e-static --plot-only $COMMON
# plots, summary.json and table.md from every run present
python examples/paper_experiments.py --groups a,b,c,d --seeds 0,1,2,3,4 --plot-only $COMMON
