"""Run both training-signal checks with the model on another device (e.g. ``cuda``).

Rollouts are sampled on the CPU from the tiny test policy (``tests/tiny_policy.py``), then the
checks score them with a copy of the same weights on ``--device``: agreement must hold across
devices, a wrong temperature must still be named, and ``gradient_flow`` must pass.

    python bench/gradients/device_check.py --device cuda
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from tiny_policy import sample_records, tiny_policy_dir

from gymcheck.checks.gradients import check_gradient_flow
from gymcheck.checks.logprobs import check_logprob_agreement
from gymcheck.training import load_train_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    directory = str(tiny_policy_dir())
    cpu = load_train_model(directory)
    records = sample_records(cpu, cpu.tokenizer, temperature=0.7, count=4)
    model = load_train_model(directory, device=args.device)
    print("model on", model.device)
    agree = check_logprob_agreement(records, model, temperature=0.7)
    wrong = check_logprob_agreement(records, model, temperature=1.0)
    grads = check_gradient_flow(records, model)
    for name, result in (("agree", agree), ("wrong_temperature", wrong), ("gradients", grads)):
        print(name, result.status.value, result.summary)
    print("kl", agree.details["gen_kl_error"], "max_abs", agree.details["max_abs_diff"])
    ok = (
        agree.status.value == "pass"
        and wrong.findings
        and wrong.findings[0].cause == "temperature_mismatch"
        and grads.status.value == "pass"
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
