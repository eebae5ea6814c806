# Fuzzing (fuzz/): cargo-fuzz targets for the envelope decoder and for a node in each role.
#
#   make fuzz SECONDS=N           each target for N seconds (default 60) with libFuzzer, from the
#                                 committed corpus (fuzz/corpus, read only; new inputs go to
#                                 fuzz/target/corpus); a crash lands in fuzz/artifacts/<target>/.
#                                 Last line JSON: executions and crashes per target.
#   make fuzz FUZZ_TARGETS=step   only some targets
#   make fuzz FUZZ_SKIP=batch     steer clear of a known bug's trigger, to find the next one
#
# Built on the stable toolchain with cargo-fuzz's instrumentation (fuzz/run.sh); `make test`
# runs each target for FUZZ_TEST_SECONDS (suite "fuzz") and replays the committed corpus and
# fuzz/regressions through the same code as a cargo test (suite "fuzz-corpus").

SECONDS ?= 60
FUZZ_TARGETS ?= decode step step_message
FUZZ_SKIP ?=

.PHONY: fuzz
fuzz:
	@FUZZ_SKIP="$(FUZZ_SKIP)" fuzz/run.sh $(SECONDS) $(FUZZ_TARGETS)
