package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "1024", want: 1024},
		{in: "0", want: 0},
		{in: "1KiB", want: 1024},
		{in: "1kib", want: 1024},
		{in: "1MiB", want: 1 << 20},
		{in: "2GiB", want: 2 << 30},
		{in: "1KB", want: 1000},
		{in: "1MB", want: 1_000_000},
		{in: "512k", want: 512 << 10},
		{in: "64B", want: 64},
		{in: " 8 MiB ", want: 8 << 20},
		{in: "", wantErr: "empty"},
		{in: "abc", wantErr: "want an integer"},
		{in: "1.5MiB", wantErr: "want an integer"},
		{in: "-1", wantErr: "negative"},
		{in: "1TiB", wantErr: "want an integer"},
		{in: "99999999999GiB", wantErr: "too large"},
	} {
		got, err := ParseSize(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseSize(%q) = %d, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{0: "0B", 1000: "1000B", 1024: "1KiB", 1536: "1536B", 1 << 20: "1MiB", 3 << 30: "3GiB"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
		if back, err := ParseSize(FormatSize(in)); err != nil || back != in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", in, back, err)
		}
	}
}

func TestProduceConfigValidate(t *testing.T) {
	if err := DefaultProduceConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if err := (ProduceConfig{Records: 1}).withDefaults().Validate(); err != nil {
		t.Fatalf("zero config with Records must take defaults: %v", err)
	}
	if err := (ProduceConfig{Records: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "BatchMaxBytes 0") {
		t.Fatalf("Validate must not fill defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*ProduceConfig)
		want []string // every substring must appear in the error
	}{
		{"unknown codec", func(c *ProduceConfig) { c.Compression = "brotli" }, []string{`Compression "brotli"`, "unknown codec", "zstd"}},
		{"negative record size", func(c *ProduceConfig) { c.RecordSize = -1 }, []string{"RecordSize -1"}},
		{"huge record size", func(c *ProduceConfig) { c.RecordSize = MaxRecordSize + 1 }, []string{"RecordSize 16777217"}},
		{"record over batch", func(c *ProduceConfig) { c.RecordSize = 4096; c.BatchMaxBytes = 2048 }, []string{"RecordSize 4096", "BatchMaxBytes 2048"}},
		{"tiny batch", func(c *ProduceConfig) { c.BatchMaxBytes = 10 }, []string{"BatchMaxBytes 10"}},
		{"zero batch", func(c *ProduceConfig) { c.BatchMaxBytes = 0 }, []string{"BatchMaxBytes 0"}},
		{"zero producers", func(c *ProduceConfig) { c.Producers = 0 }, []string{"Producers 0"}},
		{"bad acks", func(c *ProduceConfig) { c.Acks = "2" }, []string{`Acks "2"`}},
		{"idempotent acks", func(c *ProduceConfig) { c.Idempotent = true; c.Acks = "1" }, []string{`Acks "1"`, "idempotent"}},
		{"idempotent inflight", func(c *ProduceConfig) { c.Idempotent = true; c.MaxInFlight = 1 }, []string{"MaxInFlight 1", "idempotent"}},
		{"no bound", func(c *ProduceConfig) { c.Records = 0; c.Duration = 0 }, []string{"Records 0 and Duration 0"}},
		{"negative rate", func(c *ProduceConfig) { c.Rate = -5 }, []string{"Rate -5"}},
		{"bad keys", func(c *ProduceConfig) { c.Keys = "uuid" }, []string{`Keys "uuid"`}},
		{"bad payload", func(c *ProduceConfig) { c.Payload = "zeros" }, []string{`Payload "zeros"`}},
		{"bad broker", func(c *ProduceConfig) { c.Brokers = []string{"localhost"} }, []string{`Brokers[0] "localhost"`}},
		{"bad port", func(c *ProduceConfig) { c.Brokers = []string{"h:99999"} }, []string{`Brokers[0] "h:99999"`}},
		{"bad topic", func(c *ProduceConfig) { c.Topic = "a b" }, []string{`Topic "a b"`}},
		{"partitions", func(c *ProduceConfig) { c.Partitions = -1 }, []string{"Partitions -1"}},
		{"producers", func(c *ProduceConfig) { c.Producers = 1000 }, []string{"Producers 1000"}},
		{"warmup", func(c *ProduceConfig) { c.Warmup = -time.Second }, []string{"Warmup -1s"}},
		{"linger", func(c *ProduceConfig) { c.Linger = time.Hour }, []string{"Linger 1h0m0s"}},
		{"several at once", func(c *ProduceConfig) { c.Compression = "x"; c.RecordSize = -2; c.Acks = "none" },
			[]string{`Compression "x"`, "RecordSize -2", `Acks "none"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultProduceConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConsumeConfigValidate(t *testing.T) {
	if err := DefaultConsumeConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*ConsumeConfig)
		want string
	}{
		{"no bound", func(c *ConsumeConfig) { c.Records = 0 }, "Records 0 and Duration 0"},
		{"negative records", func(c *ConsumeConfig) { c.Records = -1 }, "Records -1"},
		{"fetch bytes", func(c *ConsumeConfig) { c.FetchMaxBytes = 1 }, "FetchMaxBytes 1"},
		{"topic", func(c *ConsumeConfig) { c.Topic = "bad/topic" }, `Topic "bad/topic"`},
		{"two groups", func(c *ConsumeConfig) { c.Group, c.ShareGroup = "g", "s" }, `Group "g" and ShareGroup "s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConsumeConfig()
			tc.mod(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}
