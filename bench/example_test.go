package bench_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/chronik-io/chronik/bench"
)

// Produce 100,000 records to a three-broker chronik cluster started in this
// process and print the report.
func Example() {
	ctx := context.Background()
	cl, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	cfg := bench.DefaultProduceConfig()
	cfg.Brokers = cl.Brokers()
	cfg.ReplicationFactor = 3
	cfg.Records = 100_000
	cfg.Warmup = 2 * time.Second
	cfg.Progress = bench.NewProgressWriter(os.Stderr, bench.IsTerminal(os.Stderr))
	res, err := bench.Produce(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := bench.WriteText(os.Stdout, res); err != nil {
		log.Fatal(err)
	}
}
