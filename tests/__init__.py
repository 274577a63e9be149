"""Tests of mlmc_hpc, in folders by tier: unit, statistical, cli, mpi, gpu, slurm."""
