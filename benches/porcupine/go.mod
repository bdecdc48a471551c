module lhbench/porcupine-driver

go 1.19

require github.com/anishathalye/porcupine v0.0.0-20250101000000-55508eb00000

// run.sh fills ./porcupine with porcupine at the commit measured (55508eb); it is not part of the repo.
replace github.com/anishathalye/porcupine => ./porcupine
