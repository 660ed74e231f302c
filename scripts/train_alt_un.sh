#!/usr/bin/env bash
# Train `alt-un` for issue 17 from scratch, or continue where its run folders stop.
#   scripts/train_alt_un.sh [a|c|d|e|f|h|k|m|all]   (stage a: training/alt_un_vs, c: alt_un_vs_c; d: alt_un_vs_d; e: alt_un_vs_e; f: alt_un_vs_f; h: alt_un_vs_h; k: alt_un_vs_k; m: alt_un_vs_m; all = a, c, d, e)
# Background use: nohup scripts/train_alt_un.sh > training/alt_un_vs.log 2>&1 &
source "$(dirname "${BASH_SOURCE[0]}")/train_stages.sh"
train_stages alt-un alt_un_vs "${1:-all}"
