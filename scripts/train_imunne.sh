#!/usr/bin/env bash
# Train `imunne` for issue 17 from scratch, or continue where its run folders stop.
#   scripts/train_imunne.sh [a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|all]   (stage a: training/imunne_vs, b: imunne_vs_b, c: imunne_vs_c; d: imunne_vs_d; e: imunne_vs_e; f: imunne_vs_f; g: imunne_vs_g; h: imunne_vs_h; i: imunne_vs_i; j: imunne_vs_j; k: imunne_vs_k; l: imunne_vs_l; m: imunne_vs_m; n: imunne_vs_n; o: imunne_vs_o; all = a, c, d, e)
# Background use: nohup scripts/train_imunne.sh > training/imunne_vs.log 2>&1 &
source "$(dirname "${BASH_SOURCE[0]}")/train_stages.sh"
train_stages imunne imunne_vs "${1:-all}"
