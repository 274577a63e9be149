"""Statistical tests: closed forms, couplings, prices within eps, published rates."""
