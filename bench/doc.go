// Package bench holds privlink's benchmarks. Each one measures a baseline in
// the same run and prints ratios against it; results, with the commands
// that produced them, are in RESULTS.md:
//
//	go test -bench . -benchmem -cpu 1 ./bench/   # policy evaluation
//	go run ./bench/api                            # control-plane API load
//	go run ./bench/privatelink                    # endpoint scale, data plane off
//	go run ./bench/dataplane                      # traffic through endpoints (root)
//
// Benchmarks never run as timed assertions inside tests.
package bench
