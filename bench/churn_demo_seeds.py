"""The churn model's back-test on the small demo, seed by seed (docs/health-and-churn.md).

    python bench/churn_demo_seeds.py [SEED ...]        # default: seeds 7 to 11

Builds the small demo for each seed (generation and import, as ``impactlens demo``)
in a temporary folder, fits the churn model with the default configuration and
prints: churned paying accounts, folds, back-test AUC (mean over folds and pooled),
the health score's AUC on the same folds, the shuffled-label AUC, precision at the
top 10% with the base rate, and the model's five strongest standardized
coefficients. Not a timing: the seconds shown are for orientation only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from impactlens.service.accounts import fit_churn_model
from impactlens.service.demo import build_demo


def main(seeds: list[int]) -> None:
    for seed in seeds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            run = build_demo(Path(folder), size="small", seed=seed)
            warehouse = run.workspace.connect()
            try:
                result = fit_churn_model(warehouse)
            finally:
                warehouse.close()
        bt = result.backtest
        assert bt is not None and bt.auc_mean is not None, result.message
        ran = [f for f in bt.folds if f.skipped is None]
        top = ", ".join(f"{w.feature} {w.weight:+.2f}" for w in result.weights[:5])
        print(
            f"seed {seed}: {result.n_churned_accounts} churned accounts, {len(ran)} folds "
            f"({', '.join(f'{f.snapshot}: {f.n_test_churned} churned, AUC {f.auc:.2f}' for f in ran)})\n"
            f"  AUC {bt.auc_mean:.3f} (pooled {bt.auc_pooled:.3f}), health score {bt.health_auc_mean:.3f}, "
            f"shuffled {bt.null_auc_mean:.3f}, precision at top 10% {bt.precision_at_k_mean:.3f} "
            f"(base rate {bt.base_rate:.3f})\n"
            f"  top 5: {top}   [{time.perf_counter() - started:.0f} s]"
        )


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [7, 8, 9, 10, 11])
