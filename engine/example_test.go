package engine_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// Example opens a one-node engine in a temporary directory, creates a topic,
// produces two records and fetches them back.
func Example() {
	dir, err := os.MkdirTemp("", "chronik-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, _ := net.Listen("tcp", "127.0.0.1:0") // pick a free Raft port
	addr := l.Addr().String()
	l.Close()

	cfg := engine.DefaultConfig()
	cfg.DataDir = dir
	cfg.RaftAddr = addr
	cfg.Peers = map[uint64]string{1: addr}
	cfg.RTT = 10 * time.Millisecond
	cfg.SmallLogDBMemory = true
	e, err := engine.Open(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	if err := e.CreateTopic(ctx, "greetings", engine.TopicConfig{Partitions: 1}); err != nil {
		log.Fatal(err)
	}
	res, err := e.Produce(ctx, "greetings", 0, []engine.Record{
		{Key: []byte("k"), Value: []byte("hello")},
		{Value: []byte("world")},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("base offset:", res.BaseOffset)

	fr, err := e.Fetch(ctx, "greetings", 0, 0, engine.FetchOptions{MaxBytes: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	recs, err := fr.Records()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("%d %s\n", r.Offset, r.Value)
	}
	fmt.Println("high watermark:", fr.HighWatermark)
	// Output:
	// base offset: 0
	// 0 hello
	// 1 world
	// high watermark: 2
}
