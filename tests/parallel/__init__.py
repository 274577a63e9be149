"""MPI: whole jobs under mpiexec and the in-process executor under --with-mpi."""
