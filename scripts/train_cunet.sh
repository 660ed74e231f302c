#!/usr/bin/env bash
# Train `cunet` for issue 17 from scratch, or continue where its run folders stop.
#   scripts/train_cunet.sh [a|c|d|e|f|h|k|m|all]   (stage a: training/cunet_vs, c: cunet_vs_c; d: cunet_vs_d; e: cunet_vs_e; f: cunet_vs_f; h: cunet_vs_h; k: cunet_vs_k; m: cunet_vs_m; all = a, c, d, e)
# Background use: nohup scripts/train_cunet.sh > training/cunet_vs.log 2>&1 &
source "$(dirname "${BASH_SOURCE[0]}")/train_stages.sh"
train_stages cunet cunet_vs "${1:-all}"
