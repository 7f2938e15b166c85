# Helper programs.
PROGRAMS +=
