"""Sweeps: many `odyssey train` runs of one paper (seeds, a grid, random draws), on this
machine (``local``, a process per trial) or on a Ray cluster (``ray``, the optional extra), with
their records, a summary per configuration and plots in one resumable directory.
``odyssey sweep`` is the command; ``odyssey validate --run`` runs its seeds through it too."""

from odyssey.sweep.run import Outcome, Sweep, available_cores, plan
from odyssey.sweep.spec import SweepError, SweepSpec, Trial, build_spec

__all__ = [
    "Outcome",
    "Sweep",
    "SweepError",
    "SweepSpec",
    "Trial",
    "available_cores",
    "build_spec",
    "plan",
]
