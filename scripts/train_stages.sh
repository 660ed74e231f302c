# Sourced by scripts/train_{imunne,alt_un,cunet}.sh (issue 17): two stages of `recon train` on
# synthetic:radial with the view-shared input, for one model, with the same data and budget for all.
#   stage a: training/<run>.yaml (64 x 64, 20 frames x 7 spokes, 8 coils, phantom detail in [0, 1])
#   stage b: the same at the benchmark protocol (128 x 128, 20 frames x 13 spokes), from stage a's weights,
#            with 30% of the examples real anatomy (training brain-template slices under motion,
#            data.anatomy; the held-out slices are never used)
#   stage c: stage b's settings but 600 steps, also from stage a's weights, with the smoothed SENSE start
#            (start_smoothing=1, 10 CG steps; recon_cli.nn.unrolled.smoothed_start) in place of the
#            gridding: training/<run>_c.
#   stage d: stage c's settings, 400 steps at learning rate 2e-4, from stage c's weights, with the
#            reweighted start (start_smoothing=0.3, 3 rounds of 5 CG steps: iteratively reweighted least
#            squares towards temporal TV; recon_cli.nn.unrolled.smoothed_start) and the training examples
#            on 4 SVD virtual coils (data.virtual_coils=4, as reconstruction uses them): training/<run>_d.
#   stage e: stage d's settings, 300 steps at learning rate 2e-4, from stage d's weights, with a sharper
#            and longer reweighted start (start_smoothing=0.6, 5 rounds of 5 CG steps, start_eps=0.02: closer
#            to temporal TV, so moving edges are less blurred): training/<run>_e.
#   stage f: stage e's settings, 300 more steps at learning rate 1e-4, from stage e's weights:
#            training/<run>_f. Run for all three networks (Alt-UN's full backpropagation makes its steps the
#            dearest; docs/benchmarks.md, imunne-ablation, "Stages F to J").
#   stage g: stage e's settings, 100 steps at learning rate 5e-5 with the loss L1 + (1 - SSIM)
#            (train.loss=l1+ssim), from stage f's weights: training/<run>_g. Kept for the record (imunne
#            only): worse on every held-out set than stage f (docs/benchmarks.md, imunne-ablation).
#   stage h: stage e's settings, 600 more steps at learning rate 1e-4, from stage f's weights:
#            training/<run>_h. Run for all three: Alt-UN and CU-Net then both have 4200 steps.
#   stage i: imunne only: stage h's settings at 4 iterations in training and at reconstruction
#            (train_iterations=4, iterations=4; stage h's weights at 4 iterations, untrained there, already
#            scored better held-out than at 5), 200 steps at learning rate 5e-5 from stage h's weights:
#            training/<run>_i. Depth is IMUNNE's own setting (one shared block), so there is no Alt-UN or
#            CU-Net counterpart; its total wall-clock still stays under Alt-UN's.
#   stage j: imunne only: stage i's settings, 400 more steps at learning rate 1e-4 from stage i's weights:
#            training/<run>_j, run once Alt-UN had its own stages f and h (equal steps with CU-Net), which
#            raised the wall-clock budget; imunne's total (a, c-f, h-j) stays under Alt-UN's a, c-f, h.
#   stage k: all three, from each network's stage before it (imunne j, alt-un and cunet h): 300 steps at
#            learning rate 1e-4 with half the examples real anatomy (data.anatomy=0.5 in place of 0.3; the
#            validation examples change with it): training/<run>_k.
#   stage l: imunne only: stage j's settings (30% real anatomy), 600 more steps at learning rate 1e-4 from
#            stage k's weights: training/<run>_l, within the wall-clock Alt-UN's stages take.
#   stage m: all three, from each network's stage before it (imunne l, alt-un and cunet k): 200 steps at
#            learning rate 1e-4 with stage e's data, with the network input turned to the canonical global
#            phase (canonical_phase=true; recon_cli.nn.unrolled.canonical_phase), which the earlier stages
#            did not have: training/<run>_m.
#   stage n: imunne only: stage m's settings, 600 more steps at learning rate 1e-4 from stage m's weights:
#            training/<run>_n, within the wall-clock Alt-UN's stages take.
#   stage o: imunne only: stage n's settings, 600 more steps at learning rate 1e-4 from stage n's weights:
#            training/<run>_o, within the wall-clock Alt-UN's stages take.
# The recipe of issue 17 is a, c, d, e (`all`), then f and h for all three, i and j for imunne, k for all
# three, l for imunne, m for all three, n and o for imunne (scripts/training_budget.py lists each network's
# stages); b and g are kept for the record (imunne only).
# A stage whose run folder already holds last.pt is resumed (`recon train --resume`), so the script
# continues an interrupted run on any machine. One thread, niced: the CPU is shared.
set -euo pipefail

train_stages() {
    local model=$1 run=$2 stage=${3:-all}
    local root recon
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    recon=${RECON:-$root/.venv/bin/recon}
    cd "$root"
    python3 - "training/$run.yaml" <<'PY'
import sys
def sections(path):
    text = open(path).read()
    return text[text.index("\ndata:"):]
if sections(sys.argv[1]) != sections("training/imunne_vs.yaml"):
    sys.exit(f"{sys.argv[1]}: data/train settings differ from training/imunne_vs.yaml (the budget must match)")
PY
    if [[ $stage == a || $stage == all ]]; then
        run_stage "$recon" "training/$run" --model "$model" --config "training/$run.yaml"
    fi
    local protocol=(--set data.matrix=128 --set data.spokes=13 --set data.val_length=4
        --set data.anatomy=0.3 --set train.steps=1000 --set train.lr=0.0003 --set train.warmup=0
        --set train.ckpt_every=10 --set train.val_every=50)
    if [[ $stage == b ]]; then
        run_stage "$recon" "training/${run}_b" --model "$model" --config "training/$run.yaml" \
            --init "training/$run" "${protocol[@]}"
    fi
    if [[ $stage == c || $stage == all ]]; then
        run_stage "$recon" "training/${run}_c" --model "$model" --config "training/$run.yaml" \
            --init "training/$run" "${protocol[@]}" \
            --set start_smoothing=1.0 --set start_iterations=10 --set train.steps=600
    fi
    if [[ $stage == d || $stage == all ]]; then
        run_stage "$recon" "training/${run}_d" --model "$model" --config "training/$run.yaml" \
            --init "training/${run}_c" "${protocol[@]}" \
            --set start_smoothing=0.3 --set start_iterations=5 --set start_rounds=3 --set start_eps=0.05 \
            --set data.virtual_coils=4 --set train.steps=400 --set train.lr=0.0002
    fi
    # stages e-i: the sharp five-round start on 4 virtual coils, each from an earlier stage's weights
    later_stage() {
        local name=$1 from=$2
        shift 2
        run_stage "$recon" "training/${run}_$name" --model "$model" --config "training/$run.yaml" \
            --init "training/${run}_$from" "${protocol[@]}" \
            --set start_smoothing=0.6 --set start_iterations=5 --set start_rounds=5 --set start_eps=0.02 \
            --set data.virtual_coils=4 "$@"
    }
    if [[ $stage == e || $stage == all ]]; then
        later_stage e d --set train.steps=300 --set train.lr=0.0002
    fi
    local depth4=(--set iterations=4 --set train_iterations=4)  # imunne's shipped depth, stages i-o
    case $stage in
        f) later_stage f e --set train.steps=300 --set train.lr=0.0001 ;;
        g) later_stage g f --set train.steps=100 --set train.lr=0.00005 --set train.loss=l1+ssim ;;
        h) later_stage h f --set train.steps=600 --set train.lr=0.0001 ;;
        i) later_stage i h --set train.steps=200 --set train.lr=0.00005 "${depth4[@]}" ;;
        j) later_stage j i --set train.steps=400 --set train.lr=0.0001 "${depth4[@]}" ;;
        k)
            # every network from its weights of the time: imunne's stage j (at its depth), the others' stage h
            local from=h extra=()
            if [[ $model == imunne ]]; then
                from=j extra=("${depth4[@]}")
            fi
            later_stage k "$from" --set data.anatomy=0.5 --set train.steps=300 --set train.lr=0.0001 "${extra[@]}"
            ;;
        l) later_stage l k --set train.steps=600 --set train.lr=0.0001 "${depth4[@]}" ;;
        m)
            # every network from its shipped weights (imunne l, the others k), trained in the canonical phase
            local from=k extra=()
            if [[ $model == imunne ]]; then
                from=l extra=("${depth4[@]}")
            fi
            later_stage m "$from" --set train.steps=200 --set train.lr=0.0001 --set canonical_phase=true \
                "${extra[@]}"
            ;;
        n | o)
            # 600 more steps in the canonical phase from the stage before (n from m, o from n)
            local from=m
            [[ $stage == o ]] && from=n
            later_stage "$stage" "$from" --set train.steps=600 --set train.lr=0.0001 --set canonical_phase=true \
                "${depth4[@]}"
            ;;
    esac
}

run_stage() {
    local recon=$1 out=$2
    shift 2
    if [[ -f $out/last.pt ]]; then
        nice -n 10 env OMP_NUM_THREADS=1 "$recon" train --resume "$out"
    else
        nice -n 10 env OMP_NUM_THREADS=1 "$recon" train --data synthetic:radial --val synthetic:radial \
            --out "$out" "$@"
    fi
}
