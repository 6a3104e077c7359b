"""UI building blocks for the pages: one package per page family (predict, overview, training, tuning, endpoints,
functions, security), widgets every family shares, and the shell (sign-in, settings sidebar, navigation)."""
