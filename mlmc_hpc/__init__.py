"""mlmc_hpc: adaptive multilevel Monte Carlo option pricing on MPI clusters of GPUs and CPUs."""

__version__ = "0.1.0"
