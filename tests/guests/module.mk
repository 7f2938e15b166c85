# Freestanding test unikernels, built with the system gcc and no Solo5 code.
GUESTS :=
.PHONY: guests
guests:
