# Fuzzing of every parser of untrusted input, run from the repository root.
#
#   make fuzz [FUZZ_SECONDS=60]   libFuzzer (Debian's clang), each target in
#                                 turn, with ASan and UBSan; what it finds
#                                 goes to build/fuzz/corpus, crashes to
#                                 build/fuzz/crashes (once fixed, commit
#                                 each to tests/fuzz/crashes, replayed by
#                                 make test)
#   make fuzz-replay              the committed corpora and crashes, through
#                                 a plain main under ASan/UBSan (gcc): part
#                                 of make test

FUZZ_TARGETS  = time text ical runs body route reply jwt repeat hours
FUZZ_SECONDS ?= 60
FUZZ_SRCS     = $(UNIT_SRCS)
FUZZ_LIBS     = -lcrypto -ljansson -lhiredis
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer

.PHONY: fuzz fuzz-replay

fuzz: $(CONTRACT_H)
	@mkdir -p build/fuzz/crashes
	@for t in $(FUZZ_TARGETS); do \
	    clang -g -O1 -Iinclude -Ibuild/contract -fsanitize=fuzzer,address,undefined \
	        -o build/fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c $(FUZZ_SRCS) \
	        $(FUZZ_LIBS) || exit 1; \
	    mkdir -p build/fuzz/corpus/$$t; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -max_len=4096 \
	        -artifact_prefix=build/fuzz/crashes/$$t- \
	        build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	        2>&1 | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' \
	        || true; \
	    if ls build/fuzz/crashes/$$t-* >/dev/null 2>&1; then \
	        echo "fuzz_$$t: crash inputs in build/fuzz/crashes"; exit 1; \
	    fi; \
	done

fuzz-replay: $(CONTRACT_H)
	@mkdir -p build/fuzz
	@for t in $(FUZZ_TARGETS); do \
	    cc -std=gnu99 -g -O1 -Iinclude -Ibuild/contract $(FUZZ_SAN) \
	        -o build/fuzz/replay_$$t tests/fuzz/replay.c \
	        tests/fuzz/fuzz_$$t.c $(FUZZ_SRCS) $(FUZZ_LIBS) || exit 1; \
	    set -- tests/fuzz/corpus/$$t; \
	    for c in tests/fuzz/crashes/$$t-*; do [ -e "$$c" ] && set -- "$$@" "$$c"; done; \
	    build/fuzz/replay_$$t "$$@" || exit 1; \
	done
