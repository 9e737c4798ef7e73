"""Protocol-neutral types, the exception tree, and the clock: what every other layer stands on."""
