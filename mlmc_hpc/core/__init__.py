"""The mathematics, NumPy only: per-level sums, Giles estimator formulas, the adaptive MLMC
loop, plain Monte Carlo and Giles' convergence and complexity tests. No files, no MPI, no
option types: the driver sees per-level sums and nothing else."""
