"""The HDF5 contract: atomic writes, reading, file kinds, run and test results,
checkpoints. The only place that opens h5py."""
