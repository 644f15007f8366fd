# mnistc — thin wrapper over the go tool. `make run` and `make test` are the
# two commands a fresh machine needs; both bring their Debian packages first.
GO      ?= go
BIN     := bin/mnistc
TAGS     = $(shell sh scripts/blas-tags.sh)
RESULTS := results/article

.PHONY: all run quick recovery lenet300 robustness search search-lenet300 test bench fuzz lint clean setup build

all: build

# Installs libopenblas-dev and python3-numpy when missing (root + apt-get),
# otherwise says what is missing and carries on with the pure-Go path.
setup:
	@sh scripts/setup.sh

# Builds with OpenBLAS when it links, pure Go otherwise (MNISTC_PUREGO=1 forces pure Go).
build: setup
	$(GO) build -buildvcs=auto -tags '$(TAGS)' -o $(BIN) ./cmd/mnistc

# The main job, the article's experiment end to end: train the baselines (3 seeds, the article's recipe),
# run every sweep of experiments/article.yaml, write results.csv, tables, plots and REPORT.md. A completed earlier
# run (the committed one) moves to $(RESULTS)/previous-<time>/; an interrupted one is resumed.
run: build
	$(BIN) sweep experiments/article.yaml --out $(RESULTS) --fresh
	$(BIN) eval --model $$(ls $(RESULTS)/baselines/seed1-*.npz | head -1)

# Post-training against in-training compression (pruning with retraining, QAT), 3 seeds: about 8 minutes,
# so it is its own target rather than part of run.
recovery: build
	$(BIN) sweep experiments/recovery.yaml --out results/recovery --fresh

# Deep Compression on LeNet-300-100 (784-300-100-10) beside Han et al.'s figures, 3 seeds: its own target.
lenet300: build
	$(BIN) sweep experiments/lenet300.yaml --out results/lenet300 --fresh

# Robustness of compressed models (FGSM, PGD-40, transfer, corruptions) beside clean accuracy, 3 seeds: its own target.
robustness: build
	$(BIN) sweep experiments/robustness.yaml --out results/robustness --fresh

# mnistc search (the smallest .mnc within a validation budget) from 3 seeds' baselines, with two ablations and per-layer
# sensitivity: about 15 minutes on 2 cores for 784-128-10, 25 for LeNet-300-100.
search: build
	$(BIN) sweep experiments/search.yaml --out results/search --fresh

search-lenet300: build
	$(BIN) sweep experiments/search-lenet300.yaml --out results/search-lenet300 --fresh

# A first look in under two minutes: one seed, coarse grids.
quick: build
	$(BIN) sweep experiments/quick.yaml --out results/quick --fresh

# vet, then every test on the pure-Go path and, when OpenBLAS links, again on it.
test: setup
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./...
	@tags='$(TAGS)'; if [ -n "$$tags" ]; then echo "$(GO) test -count=1 -tags $$tags ./..."; \
	  $(GO) test -count=1 -tags "$$tags" ./...; else echo "OpenBLAS not available: fast path not tested"; fi

bench: setup
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt

# Each fuzzer for FUZZTIME (default 60s), from raw bytes through the whole load path: the .mnc decoder, a decoded
# .mnc into the evaluator, the .npz checkpoint (with its metadata) into an evaluation, the IDX reader, an experiment
# file through validation. New crashers land in the package's testdata/fuzz/ and then fail `make test` until fixed.
# (make test runs the seed corpora only.)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./mnc
	$(GO) test -run '^$$' -fuzz '^FuzzNew$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./infer
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCheckpoint$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./model
	$(GO) test -run '^$$' -fuzz '^FuzzReadIDX$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./data
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./experiments

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags openblas ./...

clean:
	rm -rf bin bench.txt
