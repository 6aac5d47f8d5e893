package raftconf

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/logger"
)

// dragonboat's logger factory is process-wide and may be set only once, so
// every part of chronik that runs dragonboat routes its logs through
// RouteLogs, which installs one factory and lets the slog.Logger behind it
// change.
var (
	logTarget   atomic.Pointer[slog.Logger]
	installLogs sync.Once
)

// RouteLogs sends dragonboat's logs, process-wide, to lg (nil discards them)
// from now on, and returns the logger they went to before (nil if none).
// Only WARN and above reach lg, and whatever lg's handler enables of that:
// dragonboat's INFO and DEBUG are dropped, and its raft package's warnings,
// which report every campaign and vote, arrive at INFO (and one config
// warning chronik's defaults trigger by design at DEBUG). Each record has
// the attribute component=dragonboat/<package>.
func RouteLogs(lg *slog.Logger) *slog.Logger {
	prev := logTarget.Swap(lg)
	installLogs.Do(func() {
		logger.SetLoggerFactory(func(pkg string) logger.ILogger { return &slogAdapter{pkg: pkg} })
	})
	return prev
}

// slogAdapter is a dragonboat ILogger writing to the RouteLogs target.
type slogAdapter struct{ pkg string }

func (a *slogAdapter) SetLevel(logger.LogLevel)      {}
func (a *slogAdapter) Debugf(string, ...interface{}) {}
func (a *slogAdapter) Infof(string, ...interface{})  {}
func (a *slogAdapter) Warningf(f string, args ...interface{}) {
	level := slog.LevelWarn
	switch {
	case a.pkg == "raft":
		level = slog.LevelInfo
	case a.pkg == "config" && f == electionRatioWarning:
		level = slog.LevelDebug
	}
	a.log(level, f, args)
}

// electionRatioWarning is what dragonboat's config package warns for every
// replica it starts whose election timeout is under ten heartbeats.
// chronik's defaults choose five to ten (DefaultElectionTicks,
// DefaultHeartbeatTicks), so it arrives at DEBUG: 2,000 partitions would
// otherwise log it 2,000 times at start.
const electionRatioWarning = "ElectionRTT is not a magnitude larger than HeartbeatRTT"

func (a *slogAdapter) Errorf(f string, args ...interface{}) {
	a.log(slog.LevelError, f, args)
}
func (a *slogAdapter) Panicf(f string, args ...interface{}) {
	msg := fmt.Sprintf(f, args...)
	a.log(slog.LevelError, "%s", []any{msg})
	panic(msg)
}

func (a *slogAdapter) log(level slog.Level, f string, args []any) {
	lg := logTarget.Load()
	if lg == nil || !lg.Enabled(context.Background(), level) {
		return
	}
	lg.Log(context.Background(), level, fmt.Sprintf(f, args...), "component", "dragonboat/"+a.pkg)
}
