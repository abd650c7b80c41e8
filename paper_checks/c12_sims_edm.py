"""SIMS and EDM headline numbers: stated beside why they cannot be reproduced on this project's machines."""
from __future__ import annotations

from .core import Check, not_measurable

BUDGET = ("a 56 M-parameter DDPM++ trained on 200 M images (about 2 days on 8 V100s) and 50,000-sample FIDs; "
          "this project has 2 CPU cores and, at most, 30 minutes of one lent GPU per session")


def run(quick: bool = False) -> list[Check]:
    return [
        not_measurable("C12.1", "SIMS improves CIFAR-10 unconditional FID from 1.97 (EDM) to 1.33 at 2 x 35 evaluations",
                       "Alemohammad et al. 2024, SIMS [secondary table]", "FID 1.97 -> 1.33", BUDGET),
        not_measurable("C12.2", "SIMS: FFHQ-64 2.39 -> 1.04; ImageNet-512 EDM2-S -> 1.73; ImageNet-64 record",
                       "Alemohammad et al. 2024 [secondary table; ImageNet-64 number unverified]", "as stated",
                       "no FFHQ or ImageNet copy ships with the project, and the budget is as above"),
        not_measurable("C12.3", "Autoguidance: ImageNet-512 EDM2-S 2.56 -> 1.34 (g = 2.10); ImageNet-64 1.58 -> 1.01",
                       "Karras et al. 2024 [paper]", "as stated", "no ImageNet copy ships with the project"),
        not_measurable("C12.4", "EDM CIFAR-10 FID 1.79 conditional, 1.97 unconditional at 35 evaluations; "
                       "50 M images -> 5.76, 100 M -> 1.99, 200 M -> 1.88", "Karras et al. 2022 [paper; third-party table]",
                       "as stated", BUDGET),
    ]
