#!/bin/bash
# Issue 14 check: x0 modes on Fashion-MNIST, CNN, seed 0, 150 iterations (mini-batch loss 100-150)
cd "$(dirname "$0")"
run() { name=$1; shift; [ -f $name.json ] && return; OPENBLAS_NUM_THREADS=1 python -m tngd.cli train --dataset fashion-mnist --n-train 10000 --n-test 1000 --model cnn --lr 0.01 --damping 0.01 --steps 150 --seed 0 --no-progress --out $name.json "$@" > $name.log 2>&1; }
run b_t5_reset --optimizer tngd --t 5 --x0 reset
run b_t20_reset --optimizer tngd --t 20 --x0 reset
run b_t50_reset --optimizer tngd --t 50 --x0 reset
run b_ngd --optimizer ngd-woodbury
run b_t5_warm --optimizer tngd --t 5 --x0 warm
run c_t5_td0.2_paper --optimizer tngd --t 5 --td 0.2 --x0 paper
run c_t5_td1_paper --optimizer tngd --t 5 --td 1 --x0 paper
run d_t1_k0_reset --optimizer tngd --t 1 --x0 reset
run d_t1_k1e-3_reset --optimizer tngd --t 1 --kappa0 0.001 --x0 reset
run d_t1_k1e-2_reset --optimizer tngd --t 1 --kappa0 0.01 --x0 reset
run d_t1_k0_warm --optimizer tngd --t 1 --x0 warm
run d_t1_k1e-3_warm --optimizer tngd --t 1 --kappa0 0.001 --x0 warm

